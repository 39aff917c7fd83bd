"""Chat's draft model chooser, beside Drafting: a button whose menu says "None" or takes a file.

A draft model is a smaller model of the same family (``LoadOptions.draft_model_path``): it
guesses the next tokens and the loaded model keeps those it would have picked. One whose
vocabulary is another is refused when the model loads, in one sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QPushButton

NONE = "None"
OTHER = "Choose a file..."


class DraftModelChooser(QPushButton):
    chosen = Signal(str)  # the draft model's path ("" for none)

    def __init__(self, pick_file: Callable[[str], str] | None = None) -> None:
        """``pick_file(start)``: asks for a GGUF file, "" when cancelled (a file dialog)."""
        super().__init__("none")
        self.path = ""
        self._pick_file = pick_file or self._file_dialog
        self.setToolTip(
            "A smaller model of the same family (same vocabulary) that guesses the next tokens "
            "for the loaded one: faster only where a batch of tokens costs this computer "
            "little more than one (hearth bench draft)"
        )
        menu = QMenu(self)
        for text in (NONE, OTHER):
            menu.addAction(text)
        menu.triggered.connect(self._picked)
        self.setMenu(menu)

    def set_path(self, path: str) -> None:
        self.path = path
        self.setText(Path(path).name if path else "none")

    @Slot(QAction)
    def _picked(self, action: QAction) -> None:
        path = self._pick_file(self.path) if action.text() == OTHER else ""
        if action.text() == OTHER and not path:
            return  # the dialog was cancelled: keep the choice
        self.set_path(path)
        self.chosen.emit(path)

    def _file_dialog(self, start: str) -> str:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a draft model", start, "GGUF files (*.gguf)"
        )
        return path
