"""An image's pixels, decoded by Pillow before llama.cpp is given them.

llama.cpp's mtmd helper, handed an image's file bytes it cannot read as a picture, tries them as
audio and then as video, by starting ``ffprobe`` and ``ffmpeg`` from ``PATH`` on them
(llama-cpp-python 0.3.36, measured: a PNG whose compressed rows were changed, its checksums made
right, passed the header check and reached ``ffprobe``). So mtmd is never given file bytes: the
projector's chat handler (``compat.attach_projector``) takes the RGB pixels decoded here and
builds its bitmap from them (``mtmd_bitmap_init``), and a picture Pillow cannot decode is refused
in one sentence (``UnreadableImage``), so mtmd's audio and video fallbacks are never reached.

Only the four kinds the header check lets through are opened (``image_header.KINDS``), no
larger than its ``MAX_PIXELS`` (checked from the size Pillow read, before the rows are decoded;
Pillow's own ``Image.MAX_IMAGE_PIXELS``, 89 megapixels, is larger). Pillow's
``ImageFile.LOAD_TRUNCATED_IMAGES`` stays off (its default), so a picture whose data ends early
raises rather than arriving with grey rows (measured: a PNG's compressed rows cut short; a JPEG
whose scan is damaged but reaches its end marker is decoded as libjpeg can, pixels still).
Plain Python, no llama.cpp: it runs where the model runs, in its host process.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from app.core.common.errors import UnreadableImage
from app.core.inference.image_header import KINDS, MAX_PIXELS, picture_size, too_large

if TYPE_CHECKING:
    from PIL import Image

_FORMATS = ("PNG", "JPEG", "GIF", "BMP")


def rgb_pixels(data: bytes) -> tuple[int, int, bytes]:
    """``(width, height, pixels)``: the picture's first frame as 8-bit RGB, row by row, 3 bytes
    a pixel, as mtmd's bitmap takes it (what its own reader, stb_image, gives: alpha dropped).
    Raises ``UnreadableImage`` for data Pillow cannot decode whole, or a picture too large."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as picture:
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise UnreadableImage(too_large(width, height))
            picture.load()  # decodes every row: a damaged one raises here
            return width, height, _rgb(picture).tobytes()
    except UnreadableImage:
        raise
    # Pillow's own limit (its MAX_IMAGE_PIXELS, 89 megapixels: a warning past it, an error
    # past twice it) is checked as it opens the file, before the size above is looked at.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = picture_size(data)
        raise UnreadableImage(
            too_large(found[1], found[2]) if found else f"An image is too large: {exc}"
        ) from exc
    # Pillow's decoders raise OSError, SyntaxError, ValueError, EOFError, struct.error and
    # more on damaged data; every one of them means the same to the user.
    except Exception as exc:  # noqa: BLE001
        raise UnreadableImage(
            f"An image could not be decoded: its data is not a whole {KINDS} picture."
        ) from exc


def _rgb(picture: Image.Image) -> Image.Image:
    """The picture in RGB as stb_image gives it: alpha dropped, a GIF's transparent pixels
    black (stb draws a GIF's first frame on transparent black; Pillow would give the colour
    its palette holds for them)."""
    from PIL import Image

    if picture.format == "GIF" and "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        black = Image.new("RGB", picture.size)
        black.paste(rgba, mask=rgba.getchannel("A"))
        return black
    return picture.convert("RGB")
