"""Chat's notice above the figures line: a sentence with up to two buttons, for a question
the chat waits on (the context is full: drop the oldest turns?) or a state to leave (editing
an earlier message: Cancel edit).

One notice at a time, named by its ``kind``; the buttons say which kind they answered, so the
page acts on the notice the user saw.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class NoticeBar(QWidget):
    accepted = Signal(str)  # the kind of notice its first button answered
    dismissed = Signal(str)  # the kind of notice its second button closed

    def __init__(self) -> None:
        super().__init__()
        self.notice = QLabel(objectName="note", wordWrap=True)
        self.yes = QPushButton()
        self.no = QPushButton()
        self.yes.clicked.connect(self._on_yes)
        self.no.clicked.connect(self._on_no)
        self.kind = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.notice, 1)
        layout.addWidget(self.yes)
        layout.addWidget(self.no)
        self.close_notice()

    def ask(self, kind: str, text: str, yes: str, no: str) -> None:
        """Show ``text`` with a button ``yes`` (none when "") and a button ``no``."""
        self.kind = kind
        self.notice.setText(text)
        self.yes.setText(yes)
        self.yes.setVisible(bool(yes))
        self.no.setText(no)
        self.show()

    def close_notice(self) -> None:
        self.kind = ""
        self.hide()

    @Slot()
    def _on_yes(self) -> None:
        kind = self.kind
        self.close_notice()
        self.accepted.emit(kind)

    @Slot()
    def _on_no(self) -> None:
        kind = self.kind
        self.close_notice()
        self.dismissed.emit(kind)
