"""Chat's message box and the images waiting to go with the next message.

Images come in three ways: the attach button's file dialog, a picture pasted into the message
box, and an image file dropped on the chat (the message box, the conversation or the page; a
``.gguf`` file dropped there still goes to ``app.ui.model_drop``, which sees it first). Each is
made into a data URL on the pool (``image_data``: decoding and shrinking a large photo takes
longer than a frame) and shown as a small removable thumbnail above the message box; Send takes
them with the text (``take``).

Only a local model loaded with its image projector sees images. With any other model the
attach button is off, its tooltip says why, and a pasted or dropped image gets one sentence
instead of being kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, Signal, Slot
from PySide6.QtGui import QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QWidget,
)

from app.core.chats.store import MAX_IMAGES
from app.core.inference.images import image_part
from app.ui.chat import image_data
from app.ui.common.banner import show_error
from app.ui.common.tasks import run_task
from app.ui.session.session import ChatSession

TEXT_ONLY = (
    "This model reads text only: load a vision model with its image projector (an mmproj "
    "file beside it) to chat about images."
)
ATTACH_TIP = "Attach an image (PNG, JPEG, WebP or GIF). You can also paste or drop one here."


def image_files(data: QMimeData) -> list[Path]:
    """The local image files a paste or a drag carries."""
    if not data.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in data.urls() if url.isLocalFile()]
    return [p for p in paths if image_data.is_image_file(p)]


def message_content(text: str, images: Sequence[str]) -> str | list[dict[str, Any]]:
    """A message as the model takes it: its text, or with images OpenAI-style parts (the
    text, then each image), as ``app.core.inference.images`` reads them."""
    if not images:
        return text
    return [{"type": "text", "text": text}, *(image_part(url) for url in images)]


class MessageBox(QPlainTextEdit):
    """The message box: text as before; a pasted or dropped picture or image file is handed to
    ``images_offered`` instead of being written into the box as a path."""

    images_offered = Signal(object)  # a list of Path and QImage

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802 - Qt override
        return (
            source.hasImage() or bool(image_files(source)) or super().canInsertFromMimeData(source)
        )

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 - Qt override
        files = image_files(source)
        if files:
            self.images_offered.emit(files)
        elif source.hasImage():
            self.images_offered.emit([QImage(source.imageData())])
        else:
            super().insertFromMimeData(source)


class Attachments(QWidget):
    """The images waiting for Send: a row of thumbnails, each with a button that removes it."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._urls: list[str] = []
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 4)
        self._row.addStretch(1)
        # As tall as a thumbnail, never squeezed: the message box's buttons below keep theirs
        self.setFixedHeight(image_data.THUMB_SIDE + 4)
        self.hide()

    def urls(self) -> list[str]:
        return list(self._urls)

    def add(self, data_url: str) -> None:
        self._urls.append(data_url)
        self._rebuild()

    def remove(self, index: int) -> None:
        if 0 <= index < len(self._urls):
            del self._urls[index]
            self._rebuild()

    def clear(self) -> None:
        if self._urls:
            self._urls.clear()
            self._rebuild()

    def _rebuild(self) -> None:
        while self._row.count() > 1:  # the stretch stays last
            item = self._row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for index, url in enumerate(self._urls):
            self._row.insertWidget(index, self._thumb(index, url))
        self.setVisible(bool(self._urls))
        self.changed.emit()

    def _thumb(self, index: int, url: str) -> QWidget:
        """The thumbnail, its remove button over its top right corner."""
        box = QWidget(objectName="attachment")
        layout = QGridLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        picture = QLabel()
        picture.setPixmap(QPixmap.fromImage(image_data.thumbnail(url)))
        picture.setFixedSize(image_data.THUMB_SIDE, image_data.THUMB_SIDE)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture.setToolTip("Sent with your next message")
        layout.addWidget(picture, 0, 0)
        remove = QToolButton(text="✕", toolTip="Remove this image")
        remove.setAccessibleName(f"Remove image {index + 1}")
        remove.clicked.connect(lambda _checked=False, i=index: self.remove(i))
        corner = Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight
        layout.addWidget(remove, 0, 0, corner)
        return box


class ImageIntake(QObject):
    """Takes images for the next message, or says why not (see the module docstring)."""

    refused = Signal(str)  # the sentence shown in the banner

    def __init__(
        self, session: ChatSession, box: MessageBox, attachments: Attachments, view: QWidget
    ) -> None:
        """``view`` is the chat page: image files dropped anywhere on it come here."""
        super().__init__(view)
        self.session, self.box, self.attachments, self.view = session, box, attachments, view
        self.attach_button = QPushButton("Image...")
        self.attach_button.clicked.connect(self.choose)
        self._reading = 0  # images being made ready on the pool
        box.images_offered.connect(self.offer)
        view.setAcceptDrops(True)
        view.installEventFilter(self)
        for signal in (
            session.loaded,
            session.load_failed,
            session.model_lost,
            session.remote_ready,
            session.busy_changed,
        ):
            signal.connect(self._update)
        self._update()

    def sees_images(self) -> bool:
        """Whether the model the chat answers with now reads images."""
        model = self.session.model
        return self.session.remote is None and model is not None and model.has_vision

    @Slot()
    def _update(self, *_args: object) -> None:
        on = self.sees_images()
        self.attach_button.setEnabled(on)
        self.attach_button.setToolTip(ATTACH_TIP if on else TEXT_ONLY)

    @Slot()
    def choose(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self.view, "Attach images", "", f"{image_data.FILE_FILTER};;All files (*)"
        )
        if paths:
            self.offer([Path(p) for p in paths])

    @Slot(object)
    def offer(self, images: list[Path | QImage]) -> None:
        """Make each image ready on the pool and show it above the message box (or say why
        not: a text-only model, too many images, a file that is no image)."""
        if not self.sees_images():
            self._refuse(TEXT_ONLY)
            return
        room = MAX_IMAGES - len(self.attachments.urls()) - self._reading
        if len(images) > room:
            self._refuse(f"A message takes up to {MAX_IMAGES} images.")
            images = images[: max(room, 0)]
        for image in images:
            self._reading += 1
            run_task(
                _reader(image),
                self._ready,
                self._failed,
                self,
                name="Read an image",
            )

    @property
    def reading(self) -> int:
        """Images still being made ready (Send waits until none is)."""
        return self._reading

    def _ready(self, data_url: str) -> None:
        self._reading -= 1
        self.attachments.add(data_url)

    def _failed(self, sentence: str) -> None:
        self._reading -= 1
        self._refuse(sentence)

    def take(self) -> list[str]:
        """The pending images, for the message being sent (none are left pending)."""
        urls = self.attachments.urls()
        self.attachments.clear()
        return urls

    def _refuse(self, sentence: str) -> None:
        show_error(self.view, sentence)
        self.refused.emit(sentence)

    # -- image files dropped on the page ---------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if watched is self.view and kind in (
            QEvent.Type.DragEnter,
            QEvent.Type.DragMove,
            QEvent.Type.Drop,
        ):
            drop: QDropEvent = event  # type: ignore[assignment]
            files = image_files(drop.mimeData())
            if not files:  # a model file or anything else: the window's to take
                return False
            drop.acceptProposedAction()
            if kind == QEvent.Type.Drop:
                self.offer(list(files))
            return True
        return super().eventFilter(watched, event)


def _reader(image: Path | QImage) -> Callable[[], str]:
    """The job that makes ``image`` a data URL (``ImageRefused``'s sentence when it cannot)."""
    if isinstance(image, QImage):
        return lambda: image_data.from_image(image)
    return lambda: image_data.from_file(image)
