"""The Hub token entry of a gated model's page: paste, check with the Hub, store.

The token is checked with the Hub (``hub.save_token``: ``/api/whoami-v2``) on the thread pool
and stored, as ``huggingface_hub`` stores it, only once the Hub accepts it. While it is being
checked the entry is locked; a refused or uncheckable token stays in the (masked) field with a
message saying what to do, so nothing is lost. The token is never shown, logged or signalled.
When a token is already known (``set_asking(False)``) only the note shows: nothing is asked.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from app.core.hub import client
from app.ui.common.tasks import run_task

PROMPT = "This model is gated. Once the Hub grants you access, paste a token of that account here."


class TokenEntry(QFrame):
    saved = Signal(str)  # the message shown once the token is stored (never the token)
    refused = Signal(str)  # why it was not stored

    def __init__(self, endpoint: Callable[[], str], parent=None) -> None:
        super().__init__(parent)
        self._endpoint = endpoint
        self.field = QLineEdit(
            placeholderText="Paste a Hub token (hf_...) with read access",
            echoMode=QLineEdit.EchoMode.Password,
        )
        self.field.returnPressed.connect(self.save)
        self.button = QPushButton("Save token")
        self.button.clicked.connect(self.save)
        self.prompt = PROMPT
        self.note = QLabel(PROMPT, objectName="note", wordWrap=True)
        self.note.setTextFormat(
            Qt.TextFormat.RichText
        )  # the model's page and the token page are links
        self.note.setOpenExternalLinks(True)
        self.field.setMaximumWidth(560)
        self.entry = QFrame()
        row = QHBoxLayout(self.entry)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.field, 1)
        row.addWidget(self.button)
        row.addStretch(0)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        column.addWidget(self.note)  # full width: a long message wraps instead of being cut
        column.addWidget(self.entry)

    def reset(self, prompt: str = PROMPT) -> None:
        """Back to the prompt (another model's page is shown): ``prompt`` says what to do."""
        self.prompt = prompt
        self._set_note(prompt, "note")

    def set_asking(self, asking: bool) -> None:
        """Show the token field (no token known yet) or only the note (one is)."""
        self.entry.setVisible(asking)

    @Slot()
    def save(self) -> None:
        token, endpoint = self.field.text(), self._endpoint()
        if not token.strip() or not self.button.isEnabled():
            return
        self._busy(True)
        self._set_note("Checking the token with the Hugging Face Hub...", "note")
        run_task(lambda: client.save_token(token, endpoint), self._on_saved, self._on_refused, self)

    @Slot(object)
    def _on_saved(self, message: str) -> None:
        self._busy(False)
        self.field.clear()
        self._set_note(html.escape(message), "note")
        self.saved.emit(message)

    @Slot(str)
    def _on_refused(self, message: str) -> None:
        self._busy(False)
        self.field.selectAll()
        self.field.setFocus()
        self._set_note(html.escape(message), "error")
        self.refused.emit(message)

    def _busy(self, busy: bool) -> None:
        self.field.setReadOnly(busy)
        self.button.setEnabled(not busy)
        self.button.setText("Checking…" if busy else "Save token")

    def _set_note(self, text: str, style: str) -> None:
        self.note.setText(text)
        if self.note.objectName() != style:
            self.note.setObjectName(style)
            self.note.style().unpolish(self.note)
            self.note.style().polish(self.note)
