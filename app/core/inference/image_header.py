"""What an image's first bytes say: its kind (PNG, JPEG, GIF or BMP) and its size in pixels.

Read before llama.cpp sees an image, from bytes a client or a chat file sent: llama.cpp's mtmd
helper decodes any buffer it is given, and one that is not a picture it tries as audio and then
as video by starting ``ffprobe`` on it (0.3.36, measured: "ffprobe failed on buffer"); and a
PNG's header may say anything (20,000 x 20,000 pixels, 1.2 GB decoded, fit in 1.2 MB of zeros),
its decoder bounded only by what fits in a C int. So only the four kinds its image reader
(stb_image) takes pass, whole, each no larger than ``MAX_PIXELS``, and everything else is
refused in one sentence. Plain Python, no llama.cpp, no Qt: the API server, the model's host
and Chat's image reader use the same limit. It refuses early and cheaply; a picture whose
header is whole but whose compressed data is damaged passes it, and is refused by the full
decode the model's process does (``image_pixels``: llama.cpp is given pixels, never bytes).
"""

from __future__ import annotations

import struct
import zlib

# 50 megapixels: a phone's largest photos, 200 MB decoded at 4 bytes a pixel (Qt's own limit
# is 256 MB). The projector shrinks every image to a few hundred pixels a side anyway.
MAX_PIXELS = 50_000_000
KINDS = "PNG, JPEG, GIF or BMP"

# JPEG's start-of-frame markers (they carry the size): C0-CF but C4, C8 and CC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_NO_LENGTH = frozenset([0x01, 0xD8, *range(0xD0, 0xD8)])  # markers with no length after them


def picture_size(data: bytes) -> tuple[str, int, int] | None:
    """``(kind, width, height)`` from the header, or None when ``data`` starts as no PNG,
    JPEG, GIF or BMP does, or ends before its size."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return "PNG", width, height
        if data.startswith((b"GIF87a", b"GIF89a")):
            width, height = struct.unpack("<HH", data[6:10])
            return "GIF", width, height
        if data.startswith(b"BM"):
            return _bmp(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg(data)
    except struct.error:  # cut short inside its header
        return None
    return None


def picture_problem(data: bytes) -> str | None:
    """Why ``data`` is not a picture the model can be given (one sentence), or None."""
    found = picture_size(data)
    if found is None:
        return f"An image's data is not a {KINDS} picture (or it is cut short)."
    kind, width, height = found
    if width < 1 or height < 1:
        return f"An image's data is a {kind} picture of no pixels ({width} x {height})."
    if width * height > MAX_PIXELS:
        return too_large(width, height)
    if not _whole(kind, data):
        return f"An image's {kind} data is cut short or damaged."
    return None


def damaged(data: bytes) -> str:
    """The kind of a PNG, JPEG, GIF or BMP picture cut short or damaged ("" when it is whole,
    or of another kind): Qt shows such a picture's missing part grey, llama.cpp refuses it."""
    found = picture_size(data)
    return found[0] if found is not None and not _whole(found[0], data) else ""


def too_large(width: int, height: int, what: str = "An image") -> str:
    return (
        f"{what} is {width:,} x {height:,} pixels: images up to {MAX_PIXELS // 1_000_000} "
        "megapixels are taken (make it smaller first)."
    )


def _whole(kind: str, data: bytes) -> bool:
    """Whether the picture's data runs to its end (its last chunk, end marker, trailer or
    last row), and a PNG's chunks that hold the picture match their checksums: a picture cut
    short or damaged fails stb_image, and llama.cpp then tries it as video."""
    try:
        if kind == "PNG":
            at = 8
            while at + 12 <= len(data):
                (length,) = struct.unpack(">I", data[at : at + 4])
                chunk = data[at + 4 : at + 8 + length]
                (checksum,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
                if chunk[:1].isupper() and zlib.crc32(chunk) != checksum:  # a critical chunk
                    return False
                if chunk[:4] == b"IEND":
                    return True
                at += 12 + length
            return False
        if kind == "JPEG":
            return data.rfind(b"\xff\xd9") > 2
        if kind == "GIF":
            return _gif_whole(data)
        # BMP: uncompressed rows, each padded to 4 bytes, end where the file says
        (offset,) = struct.unpack("<I", data[10:14])
        (header_size,) = struct.unpack("<I", data[14:18])
        (compression,) = struct.unpack("<I", data[30:34])
        if header_size < 40 or compression != 0:
            return True  # an old or compressed BMP: stb_image checks it
        _, width, height = _bmp(data)
        (bits,) = struct.unpack("<H", data[28:30])
        return bool(len(data) >= offset + (bits * width + 31) // 32 * 4 * height)
    except (struct.error, IndexError):  # cut short inside a field
        return False


def _gif_whole(data: bytes) -> bool:
    """Whether a GIF's blocks follow each other as the format has them, up to its trailer,
    with at least one picture (a byte changed in its structure fails stb_image)."""
    if len(data) < 13:  # cut inside its screen descriptor
        return False
    at, pictures = 13 + _colour_table(data[10]), 0
    while at < len(data):
        block = data[at]
        if block == 0x3B:  # the trailer
            return pictures > 0
        if block == 0x21:  # an extension: its label, then sub-blocks
            at = _after_sub_blocks(data, at + 2)
        elif block == 0x2C and at + 10 < len(data):  # a picture: descriptor, table, code size
            at += 10 + _colour_table(data[at + 9])
            if at >= len(data) or not 2 <= data[at] <= 12:
                return False
            at = _after_sub_blocks(data, at + 1)
            pictures += 1
        else:
            return False
    return pictures > 0 and at == len(data)  # some writers leave the trailer out


def _colour_table(packed: int) -> int:
    """The bytes of the colour table a GIF's packed field announces."""
    return 3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0


def _after_sub_blocks(data: bytes, at: int) -> int:
    """Where a run of sub-blocks (each its length, then its bytes; 0 ends them) ends; past
    the end of ``data`` when it is cut short."""
    while at < len(data):
        length = data[at]
        at += 1 + length
        if length == 0:
            return at
    return len(data) + 1


def _bmp(data: bytes) -> tuple[str, int, int]:
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:  # OS/2's BITMAPCOREHEADER: 16-bit sizes
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return "BMP", width, abs(height)  # a negative height is a top-down picture


def _jpeg(data: bytes) -> tuple[str, int, int] | None:
    """The size in the first start-of-frame segment; None when the scan or the end comes
    first."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill bytes before a marker
            at += 1
            continue
        if marker in _NO_LENGTH:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # the end, or the scan, before any frame
            return None
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return "JPEG", width, height
        if length < 2:
            return None
        at += 2 + length
    return None
