"""Images for a chat message: a file or a pasted picture made into a data URL the model reads.

Every image is decoded and encoded again with QImage, never passed on as it came: llama.cpp's
image reader (stb_image) takes PNG, JPEG, GIF and BMP but not WebP, and a photo of 24
megapixels would put ~30 MB of base64 into the chat file for an image the projector shrinks
to a few hundred pixels anyway. So the longest side is cut to ``MAX_SIDE`` and the result is a
PNG, or a JPEG where the PNG would be larger than ``MAX_PNG_BYTES`` (photos). A file that is
not an image Qt can read, larger than ``MAX_FILE_BYTES``, or whose header says more than
``MAX_PIXELS`` (a decompression bomb: read from the header, never decoded), or no regular file
(a FIFO would block the reading thread), gets one sentence (``ImageRefused``).

QImage (not QPixmap) is safe off the GUI thread: the page runs these on the pool.
"""

from __future__ import annotations

import base64
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QColor, QImage, QImageReader, QImageWriter, QPainter

from app.core.common.errors import HearthError
from app.core.common.json_file import Damaged, read_limited
from app.core.inference.image_header import MAX_PIXELS, damaged, too_large

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
FILE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.gif)"
MAX_FILE_BYTES = 50 * 1024 * 1024  # a bigger file is refused before it is read
MAX_SIDE = 1536  # pixels: above what common projectors take in (Qwen2-VL's default is 1,344)
MAX_PNG_BYTES = 1_500_000  # a PNG larger than this is sent as a JPEG
JPEG_QUALITY = 88
THUMB_SIDE = 64  # pixels: the pending images above the message box
# A stored image is drawn on the GUI thread: Hearth keeps them at most MAX_SIDE a side (it
# always has), so a larger one was damaged or forged and is not decoded (a 3,072 x 3,072 PNG
# took 0.15 s here, a 4,000 x 4,000 one 0.3 s).
STORED_PIXELS = MAX_SIDE * MAX_SIDE


class ImageRefused(HearthError):
    """An image that cannot go into a chat; the message is the one sentence for the user."""


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def from_file(path: Path) -> str:
    """The image in ``path`` as a data URL (see the module docstring)."""
    path = Path(path)
    try:
        data = read_limited(path, MAX_FILE_BYTES)
    except Damaged as exc:
        size = _size_of(path)
        if size > MAX_FILE_BYTES:
            raise ImageRefused(
                f"{path.name} is {size / 1024 / 1024:.0f} MB: Hearth takes images up to "
                f"{MAX_FILE_BYTES // 1024 // 1024} MB."
            ) from exc
        raise ImageRefused(f"{path.name} could not be read: {exc}.") from exc
    except OSError as exc:
        raise ImageRefused(f"{path.name} could not be read: {exc.strerror or exc}.") from exc
    if data is None:
        raise ImageRefused(f"{path.name} could not be read: it is no longer there.")
    kind = damaged(data)
    if kind:  # Qt would show the missing part grey
        raise ImageRefused(
            f"{path.name} is a {kind} picture cut short or damaged: save or download it again."
        )
    image = decoded(data, name=path.name)
    if image.isNull():
        raise ImageRefused(
            f"{path.name} is not an image Hearth can read (PNG, JPEG, WebP or GIF expected)."
        )
    return from_image(image)


def decoded(data: bytes, max_pixels: int = MAX_PIXELS, name: str = "") -> QImage:
    """The picture in ``data``, read only once its header's size is known to be at most
    ``max_pixels`` (a few KB of PNG may say 100,000 x 100,000 pixels: decoded, a bomb).
    A null image when it is no picture; ``ImageRefused`` when it is too large and ``name``
    says which file to name in the sentence (a stored image is just not shown)."""
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    size = reader.size()
    if size.isValid() and size.width() * size.height() > max_pixels:
        if name:
            raise ImageRefused(too_large(size.width(), size.height(), name))
        return QImage()
    image = reader.read()
    buffer.close()
    return image


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # gone: the sentence says why it could not be read


def from_image(image: QImage) -> str:
    """``image`` (pasted, or read from a file) as a data URL, made small enough to keep."""
    if image.isNull() or image.width() < 1 or image.height() < 1:
        raise ImageRefused("The pasted picture is empty.")
    if max(image.width(), image.height()) > MAX_SIDE:
        image = image.scaled(
            MAX_SIDE,
            MAX_SIDE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    png = _encode(image, "PNG")
    if len(png) <= MAX_PNG_BYTES:
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    jpeg = _encode(_flattened(image), "JPEG", JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def to_image(data_url: str) -> QImage:
    """The picture a data URL holds (a null image when it holds none)."""
    _, _, payload = data_url.partition(",")
    try:
        data = base64.b64decode(payload, validate=True)
    except ValueError:
        return QImage()
    return decoded(data, STORED_PIXELS)


def thumbnail(data_url: str, side: int = THUMB_SIDE) -> QImage:
    """A small copy of the picture, its longest side ``side`` pixels (null if unreadable)."""
    image = to_image(data_url)
    if image.isNull():
        return image
    return image.scaled(
        side,
        side,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


def _flattened(image: QImage) -> QImage:
    """``image`` on white (JPEG has no transparency: it would turn black)."""
    if not image.hasAlphaChannel():
        return image
    flat = QImage(image.size(), QImage.Format.Format_RGB32)
    flat.fill(QColor("white"))
    painter = QPainter(flat)
    painter.drawImage(0, 0, image)
    painter.end()
    return flat


def _encode(image: QImage, kind: str, quality: int = -1) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buffer, kind.encode("ascii"))
    writer.setQuality(quality)
    written = writer.write(image)
    buffer.close()
    if not written:
        raise ImageRefused(f"The image could not be prepared ({writer.errorString()}).")
    return bytes(data.data())
