"""What an image's first bytes say, read before llama.cpp sees it: kind, size, whole or not."""

from __future__ import annotations

import pytest

from app.core.inference.image_header import MAX_PIXELS, damaged, picture_problem, picture_size
from tests.faults.image_forge import GIF, JPEG, PNG, bmp, bomb_png


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PNG, ("PNG", 40, 30)),
        (JPEG, ("JPEG", 16, 16)),
        (GIF, ("GIF", 1, 1)),
        (bmp(5, 3), ("BMP", 5, 3)),
    ],
)
def test_each_kind_llama_cpp_reads_gives_its_size_and_passes(data, expected):
    assert picture_size(data) == expected
    assert picture_problem(data) is None and damaged(data) == ""


def test_a_picture_cut_short_or_changed_is_said_and_named_by_kind():
    assert damaged(PNG[:-20]) == "PNG" and damaged(JPEG[:-2]) == "JPEG"
    assert damaged(GIF[:-1] + b"\x00") == "GIF" and damaged(bmp()[:-4]) == "BMP"
    changed = bytearray(PNG)
    changed[len(PNG) // 2] ^= 0xFF  # inside its pixels: the chunk's checksum no longer matches
    assert picture_problem(bytes(changed)) == "An image's PNG data is cut short or damaged."
    assert damaged(GIF[:-1]) == ""  # some writers leave the trailer out: stb_image reads it


def test_a_huge_size_is_refused_from_the_header_alone():
    said = picture_problem(bomb_png(100_000, 100_000, rows=2))
    assert said == (
        f"An image is 100,000 x 100,000 pixels: images up to {MAX_PIXELS // 1_000_000} "
        "megapixels are taken (make it smaller first)."
    )


@pytest.mark.parametrize(
    "data", [b"", b"hello", b"RIFF\x00\x00\x00\x00WAVE", PNG[:20], b"\xff\xd8"]
)
def test_what_is_no_picture_is_said(data):
    assert picture_size(data) is None
    assert picture_problem(data).startswith("An image's data is not a PNG, JPEG, GIF or BMP")
