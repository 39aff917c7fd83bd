"""A GGUF file dropped on the window (or chosen with File > Add a model file) joins My Models.

The file goes through the one GGUF check (``app.core.gguf.check``) on the thread pool: it reads
the header and renders the chat template, too long for the GUI thread on a large vocabulary.
A file that passes is listed where it lies: its folder joins the model folders, as "Add
folder..." does (a model of many gigabytes is not copied). A file that is not a model gets one
plain sentence in the window's banner.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from app.ui.common.tasks import run_task

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


def dropped_files(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    """The local files a drag carries (links to web pages and folders are not models)."""
    data = event.mimeData()
    if not data.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in data.urls() if url.isLocalFile()]


class ModelDrop(QObject):
    """Adds model files to the window's library; ``added`` carries the path once listed."""

    added = Signal(str)
    refused = Signal(str)  # the sentence shown

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._waiting = ""  # a file added, selected in My Models once the library lists it

    def watch(self, widget: QObject) -> None:
        """Take model files dropped on ``widget``, which would take them as text (the chat's
        message box wrote the file's path where the user meant to add the model)."""
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            files = dropped_files(event)  # type: ignore[arg-type]
            if files and files[0].suffix.lower() == ".gguf":
                if kind == QEvent.Type.Drop:
                    self.dropped(event)  # type: ignore[arg-type]
                else:
                    event.acceptProposedAction()  # type: ignore[attr-defined]
                return True
        return super().eventFilter(watched, event)

    def drag_entered(self, event: QDragEnterEvent) -> None:
        if dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropped(self, event: QDropEvent) -> None:
        files = dropped_files(event)
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add(files[0])

    @Slot()
    def choose(self) -> None:
        from PySide6.QtWidgets import QFileDialog  # its enums: ~0.5 ms off the start's path

        path, _ = QFileDialog.getOpenFileName(
            self.window, "Add a model file", "", "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.add(Path(path))

    def add(self, path: Path) -> None:
        """Check ``path`` off the GUI thread, then list it (or say why not)."""
        if path.suffix.lower() != ".gguf":
            self._refuse(
                f"{path.name} is not a model file: Hearth adds GGUF models, files ending in .gguf."
            )
            return
        # The check (the GGUF reader, the template sandbox) is imported on the first drop, not
        # on the studio's start, which it slowed by about 10 ms of CPU (issue 19).
        from app.core.gguf.check import problem_of

        self.window.statusBar().showMessage(f"Checking {path.name}...")
        run_task(
            lambda: problem_of(path),
            lambda problem: self._checked(path, problem),
            self._refuse,
            self,
            key="model_drop",
        )

    def _checked(self, path: Path, problem: str | None) -> None:
        if problem:
            self._refuse(problem)
            return
        window = self.window
        path = path.resolve()
        if str(path) in window.settings.hidden_models:  # removed from the list before
            window._on_hidden_changed([p for p in window.settings.hidden_models if p != str(path)])
        listed = {m.path.resolve() for m in window.library.models()}
        if path in listed:
            self._show(str(path))
            return
        self._waiting = str(path)
        window.library.modelReset.connect(self._on_library)
        folders = window.settings.model_folders
        if str(path.parent) not in folders:
            window._on_folders_changed([*folders, str(path.parent)])
        else:
            window.refresh_library()

    @Slot()
    def _on_library(self) -> None:
        path, self._waiting = self._waiting, ""
        self.window.library.modelReset.disconnect(self._on_library)
        if any(m.path.resolve() == Path(path) for m in self.window.library.models()):
            self._show(path)
        else:
            self._refuse(f"{Path(path).name} passed the check but is not listed; see the log.")

    def _show(self, path: str) -> None:
        self.window.show_in_my_models(path)
        self.window.statusBar().showMessage(f"{Path(path).name} is in My Models.")
        self.added.emit(path)

    @Slot(str)
    def _refuse(self, sentence: str) -> None:
        self.window.statusBar().clearMessage()
        self.window.show_error(sentence)
        self.refused.emit(sentence)
