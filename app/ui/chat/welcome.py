"""What an empty chat shows: what Hearth is for, in one screen, and prompts to start with.

A newcomer's first window used to be an empty transcript with no word on what to do next
(issue 19). This panel takes the transcript's place while the open chat has no message: the
three things Hearth does, a button to each page, and example prompts that fill the message box
when clicked (they are not sent: the user sees what will be asked and can change it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from app.ui.chat.transcript import Transcript

# Short and answerable by the 135M starter model; each shows a different kind of use.
EXAMPLE_PROMPTS = (
    "Name the capital city of France.",
    "Write a short poem about a lighthouse.",
    "Explain in two sentences what a language model is.",
    "Give me three ideas for a rainy Sunday.",
)

STEPS = (
    ("Chat now", "with the starter model, already on this computer. Nothing leaves it.", ""),
    (
        "Find a bigger model",
        "that fits this computer's memory, and download the size you choose.",
        "Discover",
    ),
    (
        "Compare quants",
        "(smaller, faster files of one model) on speed and on how close their answers stay.",
        "Compare",
    ),
)


class Welcome(QScrollArea):
    prompt_chosen = Signal(str)  # an example prompt was clicked: put it in the message box
    page_requested = Signal(str)  # "Discover" or "Compare"

    def __init__(self, transcript: Transcript, message_box: QPlainTextEdit, parent=None) -> None:
        """Shown instead of ``transcript`` while it is empty (its ``emptied`` signal); an
        example prompt goes into ``message_box``."""
        super().__init__(parent)
        self.setObjectName("welcome")
        # It scrolls rather than squeezes its wrapped lines in a 640-px-high window.
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget(objectName="welcomeBody")
        self.setWidget(body)
        self.transcript, self.message_box = transcript, message_box
        layout = QVBoxLayout(body)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addStretch(1)
        layout.addWidget(QLabel("Welcome to Hearth", objectName="welcomeTitle"))
        layout.addWidget(
            QLabel(
                "Hearth runs language models on this computer, offline.",
                objectName="hint",
                wordWrap=True,
            )
        )
        self.page_buttons: dict[str, QPushButton] = {}
        for title, text, page in STEPS:
            row = QHBoxLayout()
            row.addWidget(QLabel(f"<b>{title}</b> {text}", wordWrap=True), 1)
            if page:
                button = QPushButton(f"Open {page}", objectName="small")
                button.clicked.connect(lambda _=False, p=page: self.page_requested.emit(p))
                self.page_buttons[page] = button
                row.addWidget(button)
            layout.addLayout(row)
        layout.addSpacing(12)
        layout.addWidget(QLabel("Try one of these:", objectName="hint"))
        self.prompt_buttons: list[QPushButton] = []
        for prompt in EXAMPLE_PROMPTS:
            button = QPushButton(prompt, objectName="examplePrompt")
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(self._on_prompt)
            self.prompt_buttons.append(button)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(2)
        transcript.emptied.connect(self._on_emptied)
        self.prompt_chosen.connect(self._use_prompt)
        self._on_emptied(True)

    @Slot()
    def _on_prompt(self) -> None:
        button = self.sender()
        if isinstance(button, QPushButton):  # one of the example prompts
            self.prompt_chosen.emit(button.text())

    @Slot(bool)
    def _on_emptied(self, empty: bool) -> None:
        self.setVisible(empty)
        self.transcript.setVisible(not empty)

    @Slot(str)
    def _use_prompt(self, prompt: str) -> None:
        self.message_box.setPlainText(prompt)
        self.message_box.setFocus()
        self.message_box.moveCursor(QTextCursor.MoveOperation.End)
