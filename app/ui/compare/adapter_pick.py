"""A Compare column's LoRA adapter: none, or a GGUF adapter and its strength.

Under each model picker of Side by side and the arena, so that a model can be pitted against
itself with an adapter (the same file in two columns, one with it). Chosen as Chat chooses one:
its ``AdapterChooser`` (the library's adapters, or any file), then a strength slider. Whether it
fits the model is checked when the column loads it, which then says so in one sentence in the
column (``app.core.gguf.adapter.check_fits``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.core.inference.model_choice import ModelChoice
from app.ui.chat.adapter_chooser import AdapterChooser
from app.ui.chat.strength_slider import StrengthSlider

if TYPE_CHECKING:
    from app.core.library.catalog import LocalModel


class AdapterPick(QWidget):
    def __init__(
        self,
        adapters: Callable[[], list[LocalModel]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``adapters``: the LoRA adapters in the library (its scan's), for the chooser."""
        super().__init__(parent)
        self._path = ""
        self.button = AdapterChooser(adapters)
        self.button.setToolTip(
            "Apply a LoRA adapter (GGUF) made for this model to this column: pit the model "
            "against itself with the adapter"
        )
        self.button.chosen.connect(self.set_adapter)
        self.strength = StrengthSlider(1.0)
        self.strength.setToolTip("The adapter's strength: 0 the model alone, 1 as trained")
        label = QLabel("LoRA adapter:", objectName="hint")
        label.setBuddy(self.button)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(label)
        layout.addWidget(self.button)
        layout.addWidget(self.strength, 1)
        layout.addStretch(0)
        self._show()

    def path(self) -> str:
        return self._path

    @Slot(str)
    def set_adapter(self, path: str, strength: float | None = None) -> None:
        """Apply the adapter at ``path`` ("" for none), at ``strength`` when given."""
        self._path = str(path)
        if strength is not None:
            self.strength.setValue(strength)
        self._show()

    def applied_to(self, choice: ModelChoice) -> ModelChoice:
        """``choice`` with this adapter (a remote model takes none: it is answered as it is)."""
        if choice.is_remote:
            return choice
        return choice.with_adapter(self._path, self.strength.value())

    def _show(self) -> None:
        self.button.set_path(self._path)
        self.strength.setVisible(bool(self._path))
