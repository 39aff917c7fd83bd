"""Pictures, whole and damaged, for the image fault tests: Hypothesis strategies over real bytes.

The whole pictures are a PNG (the zoo's sample, the one the vision pair's tests encode), a
JPEG written by Qt, and a GIF and a BMP written here byte by byte: the four kinds llama.cpp's
image reader takes. A damage is a plain tuple (Hypothesis prints it when a case fails):

* ``("cut", n)``: the file cut after ``n`` bytes (``n`` taken modulo its length; 0: empty);
* ``("bytes", at, junk)``: ``junk`` written over the bytes at ``at``;
* ``("size", width, height)``: the header's size forged (a decompression bomb: a small file
  that says it is huge), the PNG's header checksum made right again so a reader believes it;
* ``("noise", seed, n)``: ``n`` random bytes under the picture's name (not a picture at all);
* ``("text", words)``: a text file under an image's name.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib

from hypothesis import strategies as st

from app.bench.zoo.vision import sample_png

PNG = sample_png()
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEAYABgAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4"
    "UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAQABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcI"
    "CQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRol"
    "JicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ip"
    "qrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAA"
    "AAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLR"
    "ChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaX"
    "mJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEA"
    "PwDOooor1DgP/9k="
)  # 16 x 16 pixels, one colour
GIF = (  # 1 x 1 pixel
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def bmp(width: int = 4, height: int = 4) -> bytes:
    """An uncompressed 24-bit BMP of one colour."""
    row = (width * 3 + 3) // 4 * 4
    pixels = (b"\x20\x40\x80" * width).ljust(row, b"\0") * height
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) + info + pixels


PICTURES = {"png": PNG, "jpeg": JPEG, "gif": GIF, "bmp": bmp()}

damage = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, 4096)),
    st.tuples(st.just("bytes"), st.integers(0, 4096), st.binary(min_size=1, max_size=12)),
    st.tuples(
        st.just("size"),
        st.sampled_from([0, 1, 7_000, 65_535, 100_000, 2**31 - 1, 2**32 - 1]),
        st.sampled_from([0, 1, 7_000, 65_535, 100_000, 2**31 - 1, 2**32 - 1]),
    ),
    st.tuples(st.just("noise"), st.integers(0, 2**32), st.integers(0, 2048)),
    st.tuples(st.just("text"), st.sampled_from(["hello", "<svg></svg>", "%PDF-1.4", "RIFF"])),
)
damaged_pictures = st.tuples(st.sampled_from(sorted(PICTURES)), st.lists(damage, max_size=3))


def damaged(kind: str, steps: list[tuple]) -> bytes:
    """The picture of ``kind`` with each damage in ``steps`` done to it, in order."""
    data = bytearray(PICTURES[kind])
    for step in steps:
        if step[0] == "cut":
            del data[step[1] % (len(data) + 1) :]
        elif step[0] == "bytes" and data:
            at = step[1] % len(data)
            data[at : at + len(step[2])] = step[2]
        elif step[0] == "size":
            data = bytearray(forged_size(bytes(data), kind, step[1], step[2]))
        elif step[0] == "noise":
            data = bytearray(random.Random(step[1]).randbytes(step[2]))
        elif step[0] == "text":
            data = bytearray(step[1].encode() * 3)
    return bytes(data)


def forged_size(data: bytes, kind: str, width: int, height: int) -> bytes:
    """``data`` whose header says ``width`` x ``height`` (each kept in its field's range)."""
    if kind == "png" and data[12:16] == b"IHDR" and len(data) >= 33:
        ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
        return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]
    if kind == "gif" and len(data) >= 10:
        return data[:6] + struct.pack("<HH", width & 0xFFFF, height & 0xFFFF) + data[10:]
    if kind == "bmp" and len(data) >= 26:
        size = struct.pack("<ii", width & 0x7FFFFFFF, height & 0x7FFFFFFF)
        return data[:18] + size + data[26:]
    if kind == "jpeg":
        at = data.find(b"\xff\xc0")
        if at >= 0 and len(data) >= at + 9:
            size = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
            return data[: at + 5] + size + data[at + 9 :]
    return data


def bomb_png(width: int, height: int, rows: int) -> bytes:
    """A PNG that says ``width`` x ``height`` and holds ``rows`` rows of zeros: a few KB that a
    reader without limits decodes to gigabytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * ((width * 3 + 1) * rows), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# -- damage inside the compressed data, where the header check does not look ----------------


def _detailed(kind: str) -> bytes:
    """A 24 x 24 picture of many colours, written by Pillow: compressed data worth damaging
    (``PICTURES``' JPEG and GIF are of one colour, a few bytes of it)."""
    import io

    from PIL import Image

    picture = Image.new("RGB", (24, 24))
    picture.putdata([((x * 11) % 256, (y * 13) % 256, (x * y) % 256) for y in range(24) for x in range(24)])  # fmt: skip
    if kind == "gif":
        picture = picture.convert("P")
    out = io.BytesIO()
    picture.save(out, {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "bmp": "BMP"}[kind])
    return out.getvalue()


DETAILED = {kind: _detailed(kind) for kind in ("png", "jpeg", "gif", "bmp")}


def compressed_bytes(kind: str, data: bytes) -> list[int]:
    """Where the picture's pixels are, compressed: a PNG's first IDAT chunk's data, a JPEG's
    scan, a GIF's LZW sub-blocks (their length bytes left out), a BMP's rows."""
    if kind == "png":
        at = data.index(b"IDAT")
        (length,) = struct.unpack(">I", data[at - 4 : at])
        return list(range(at + 4, at + 4 + length))
    if kind == "jpeg":
        scan = data.index(b"\xff\xda")
        (length,) = struct.unpack(">H", data[scan + 2 : scan + 4])
        return list(range(scan + 2 + length, data.rindex(b"\xff\xd9")))
    if kind == "gif":
        at = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
        while data[at] == 0x21:  # extensions before the picture
            at += 2
            while data[at]:
                at += 1 + data[at]
            at += 1
        packed = data[at + 9]
        at += 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0) + 1  # and code size
        inside = []
        while data[at]:
            inside += range(at + 1, at + 1 + data[at])
            at += 1 + data[at]
        return inside
    (offset,) = struct.unpack("<I", data[10:14])
    return list(range(offset, len(data)))


inner_damage = st.one_of(
    st.tuples(st.just("bytes"), st.integers(0, 4096), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("flip"), st.integers(0, 4096), st.integers(0, 7)),
    st.tuples(st.just("zeros"), st.integers(0, 4096), st.integers(1, 64)),
    st.tuples(st.just("drop"), st.integers(0, 4096), st.integers(1, 64)),
)
inner_damaged_pictures = st.tuples(
    st.sampled_from(sorted(DETAILED)), st.lists(inner_damage, min_size=1, max_size=3)
)


def inner_damaged(kind: str, steps: list[tuple]) -> bytes:
    """``DETAILED[kind]`` with each damage in ``steps`` done inside its compressed data, its
    structure left whole where it can be (a PNG's chunk checksum and length made right again),
    so that the header check lets it through: ``("bytes", at, junk)`` written over, ``("flip",
    at, bit)``, ``("zeros", at, n)`` and ``("drop", at, n)`` (bytes taken out: a PNG's and a
    JPEG's only; a GIF's sub-blocks and a BMP's rows have their lengths)."""
    data = bytearray(DETAILED[kind])
    for step in steps:
        inside = compressed_bytes(kind, bytes(data))
        if not inside:
            break
        first = step[1] % len(inside)
        if step[0] == "bytes":
            for offset, value in zip(inside[first:], step[2], strict=False):
                data[offset] = value
        elif step[0] == "flip":
            data[inside[first]] ^= 1 << step[2]
        elif step[0] == "zeros":
            for offset in inside[first : first + step[2]]:
                data[offset] = 0
        elif step[0] == "drop" and kind in ("png", "jpeg"):
            del data[inside[first] : inside[min(first + step[2], len(inside)) - 1] + 1]
        if kind == "png":
            data = bytearray(_idat_fixed(bytes(data)))
    return bytes(data)


def _idat_fixed(data: bytes) -> bytes:
    """The PNG with its first IDAT chunk's length and checksum made right for the bytes it
    holds up to the next chunk (IEND, the last 12 bytes)."""
    at = data.index(b"IDAT")
    body = data[at + 4 : len(data) - 12]
    return (
        data[: at - 4]
        + struct.pack(">I", len(body))
        + b"IDAT"
        + body
        + struct.pack(">I", zlib.crc32(b"IDAT" + body))
        + data[-12:]
    )
