"""Chat's bottom row: the message box, with Send, Stop and Image... stacked beside it.

Enter sends, Shift+Enter starts a new line; the page decides what sending means
(``send_requested``) and when Send and Stop are enabled.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from app.ui.chat.composer import MessageBox


class MessageRow(QWidget):
    send_requested = Signal()  # Send pressed, or Enter in the message box
    stop_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.input = MessageBox()
        self.input.setPlaceholderText("Type a message. Enter sends, Shift+Enter starts a new line.")
        self.input.setFixedHeight(86)
        self.input.installEventFilter(self)
        self.send_button = QPushButton("Send", objectName="primary")
        self.send_button.clicked.connect(self.send_requested)
        self.stop_button = QPushButton("Stop", enabled=False)
        self.stop_button.clicked.connect(self.stop_requested)
        self.buttons = QVBoxLayout()
        self.buttons.setSpacing(4)  # three buttons beside the message box, in a 640-px window too
        self.buttons.addWidget(self.send_button)
        self.buttons.addWidget(self.stop_button)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.input, 1)
        layout.addLayout(self.buttons)

    def add_button(self, button: QPushButton) -> None:
        """A button under Stop (the image intake's Image...)."""
        self.buttons.addWidget(button)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if (
            watched is self.input
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.send_requested.emit()
            return True
        return super().eventFilter(watched, event)
