"""Chat's LoRA adapter chooser: a button whose menu lists the adapters in the library.

The adapters come from the studio's one library scan (``LibraryModel.adapters()``: each names
the base model it was made for), so an adapter downloaded from the model page is one click
away; "Choose a file..." takes any other GGUF adapter, and "None" applies none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QPushButton

if TYPE_CHECKING:
    from app.core.library.catalog import LocalModel

NONE = "None"
OTHER = "Choose a file..."


def adapter_label(adapter: LocalModel) -> str:
    """``adapter.gguf · for ORG/NAME`` (the base model its file or repo names)."""
    base = adapter.adapter_of or "base model unknown"
    return f"{adapter.path.name} · for {base}"


class AdapterChooser(QPushButton):
    chosen = Signal(str)  # the adapter's path ("" for none)

    def __init__(self, adapters: Callable[[], list[LocalModel]] | None = None) -> None:
        super().__init__("none")
        self.path = ""
        self.adapters = adapters or list
        self.setToolTip("A LoRA adapter (GGUF) made for this model, applied to it")
        self.setMenu(QMenu(self))
        self.menu().aboutToShow.connect(self.fill)
        self.menu().triggered.connect(self._picked)

    def set_path(self, path: str) -> None:
        self.path = path
        self.setText(Path(path).name if path else "none")

    @Slot()
    def fill(self) -> None:
        """The menu as the library is now: None, each adapter, then any other file."""
        menu = self.menu()
        menu.clear()
        entries = [(NONE, "")] + [
            (adapter_label(a), str(a.path))
            for a in sorted(self.adapters(), key=lambda a: a.path.name.lower())
        ]
        for text, path in entries:
            action = menu.addAction(text)
            action.setData(path)
            action.setCheckable(True)
            action.setChecked(path == self.path)
        menu.addSeparator()
        menu.addAction(OTHER).setData(None)

    @Slot(QAction)
    def _picked(self, action: QAction) -> None:
        path = action.data()
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Choose a LoRA adapter", self.path, "GGUF files (*.gguf)"
            )
            if not path:
                return
        self.set_path(str(path))
        self.chosen.emit(str(path))
