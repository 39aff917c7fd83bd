"""A Compare column's LoRA adapter: none, or a GGUF adapter file and its strength.

Under each model picker of Side by side and the arena, so that a model can be pitted against
itself with an adapter (the same file in two columns, one with it). Chosen as Chat chooses one
(a file, then a strength slider); whether it fits the model is checked when the column loads
it, which then says so in one sentence in the column (``app.core.gguf.adapter.check_fits``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QToolButton, QWidget

from app.core.inference.model_choice import ModelChoice
from app.ui.chat.strength_slider import StrengthSlider

NONE_TEXT = "+ LoRA adapter..."


class AdapterPick(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = ""
        self.button = QPushButton(NONE_TEXT, clicked=self._choose, flat=True)
        self.button.setToolTip(
            "Apply a LoRA adapter (GGUF) made for this model to this column: pit the model "
            "against itself with the adapter"
        )
        self.strength = StrengthSlider(1.0)
        self.strength.setToolTip("The adapter's strength: 0 the model alone, 1 as trained")
        self.strength.valueChanged.connect(self._changed)
        self.clear_button = QToolButton(text="×", clicked=self.clear)
        self.clear_button.setToolTip("No adapter in this column")
        self.clear_button.setAccessibleName("Remove the adapter")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.button)
        layout.addWidget(self.strength, 1)
        layout.addWidget(self.clear_button)
        layout.addStretch(0)
        self._show()

    def path(self) -> str:
        return self._path

    def set_adapter(self, path: str, strength: float | None = None) -> None:
        """Apply the adapter at ``path`` ("" for none), at ``strength`` when given."""
        self._path = str(path)
        if strength is not None:
            self.strength.setValue(strength)
        self._show()
        self.changed.emit()

    @Slot()
    def clear(self) -> None:
        self.set_adapter("")

    def applied_to(self, choice: ModelChoice) -> ModelChoice:
        """``choice`` with this adapter (a remote model takes none: it is answered as it is)."""
        if choice.is_remote:
            return choice
        return choice.with_adapter(self._path, self.strength.value())

    def _show(self) -> None:
        self.button.setText(Path(self._path).name if self._path else NONE_TEXT)
        self.strength.setVisible(bool(self._path))
        self.clear_button.setVisible(bool(self._path))

    @Slot()
    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a LoRA adapter for this column", self._path, "GGUF files (*.gguf)"
        )
        if path:
            self.set_adapter(path)

    @Slot(float)
    def _changed(self, _value: float) -> None:
        self.changed.emit()
