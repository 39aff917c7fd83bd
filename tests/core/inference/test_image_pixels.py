"""An image's pixels as Pillow decodes them for llama.cpp: its size, RGB, or one sentence."""

from __future__ import annotations

import pytest

from app.core.common.errors import UnreadableImage
from app.core.inference.image_header import MAX_PIXELS
from app.core.inference.image_pixels import rgb_pixels
from tests.faults.image_forge import DETAILED, GIF, JPEG, PNG, bmp, bomb_png, inner_damaged


@pytest.mark.parametrize(
    ("data", "size", "first"),
    [
        (PNG, (40, 30), (0, 0, 128)),  # the zoo's gradient
        (JPEG, (16, 16), None),
        (GIF, (1, 1), (0, 0, 0)),  # its one pixel transparent: black, as stb_image gives it
        (bmp(5, 3), (5, 3), (0x80, 0x40, 0x20)),  # BMP stores blue, green, red
    ],
)
def test_each_kind_becomes_rgb_rows_of_its_size(data, size, first):
    width, height, pixels = rgb_pixels(data)
    assert (width, height) == size and len(pixels) == width * height * 3
    if first is not None:
        assert tuple(pixels[:3]) == first


def test_a_picture_damaged_inside_is_refused_in_one_sentence():
    broken = inner_damaged("png", [("bytes", 5, b"\xff" * 10)])
    cut = inner_damaged("png", [("drop", 60, 64)])
    for data in (broken, cut, b"GIF89a" + DETAILED["gif"][6:40]):
        with pytest.raises(UnreadableImage) as refused:
            rgb_pixels(data)
        assert str(refused.value) == (
            "An image could not be decoded: its data is not a whole PNG, JPEG, GIF or BMP picture."
        )


@pytest.mark.parametrize("side", [7_100, 20_000])  # past Hearth's limit; past Pillow's twice
def test_a_picture_past_the_limit_is_refused_before_its_rows_are_decoded(side):
    with pytest.raises(UnreadableImage) as refused:
        rgb_pixels(bomb_png(side, side, rows=2))
    assert f"{side:,} x {side:,} pixels" in str(refused.value)
    assert f"up to {MAX_PIXELS // 1_000_000} megapixels" in str(refused.value)


def test_other_kinds_pillow_reads_are_not_opened():
    """A TIFF (Pillow reads it, the header check does not take it) is refused here too."""
    import io

    from PIL import Image

    tiff = io.BytesIO()
    Image.new("RGB", (4, 4)).save(tiff, "TIFF")
    with pytest.raises(UnreadableImage):
        rgb_pixels(tiff.getvalue())
