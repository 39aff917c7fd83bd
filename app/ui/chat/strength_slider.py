"""A LoRA adapter's strength as a slider with its value beside it (0 to 2 in steps of 0.05).

A slider rather than a number box: strength is felt, not typed (0 the model alone, 1 the adapter
as trained, 2 twice that). The slider holds whole steps; ``value()`` is the strength itself.
Keyboard: arrows move a step, Page Up/Down a quarter, Home/End the ends.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

STEP = 0.05
MAXIMUM = 2.0


class StrengthSlider(QWidget):
    valueChanged = Signal(float)  # noqa: N815 - named as Qt's own boxes name it

    def __init__(self, value: float = 1.0) -> None:
        super().__init__()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round(MAXIMUM / STEP))
        self.slider.setSingleStep(1)
        self.slider.setPageStep(5)
        self.slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.slider.setAccessibleName("LoRA strength")
        self.shown = QLabel()
        self.shown.setMinimumWidth(self.shown.fontMetrics().horizontalAdvance("0.00") + 4)
        self.shown.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.shown.setBuddy(self.slider)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.shown)
        self.setFocusProxy(self.slider)
        self.slider.valueChanged.connect(self._moved)
        self.setValue(value)
        self._moved(self.slider.value())

    def value(self) -> float:
        return round(self.slider.value() * STEP, 2)

    def setValue(self, value: float) -> None:  # noqa: N802 - as Qt's boxes name it
        """Set the strength (rounded to the nearest step, kept within 0 to 2)."""
        self.slider.setValue(round(min(max(value, 0.0), MAXIMUM) / STEP))

    @Slot(int)
    def _moved(self, steps: int) -> None:
        text = f"{self.value():.2f}"
        self.shown.setText(text)
        self.slider.setAccessibleDescription(text)
        self.valueChanged.emit(self.value())
