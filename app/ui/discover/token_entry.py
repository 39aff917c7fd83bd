"""The Hub token entry of a gated model's page: paste, check with the Hub, store.

The token is checked with the Hub (``hub.save_token``: ``/api/whoami-v2``) on the thread pool
and stored, as ``huggingface_hub`` stores it, only once the Hub accepts it. While it is being
checked the entry is locked; a refused or uncheckable token stays in the (masked) field with a
message saying what to do, so nothing is lost. The token is never shown, logged or signalled.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from app.core.hub import client as hub
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
            echoMode=QLineEdit.Password,
        )
        self.field.returnPressed.connect(self.save)
        self.button = QPushButton("Save token")
        self.button.clicked.connect(self.save)
        self.note = QLabel(PROMPT, objectName="note", wordWrap=True)
        self.field.setMaximumWidth(560)
        row = QHBoxLayout()
        row.addWidget(self.field, 1)
        row.addWidget(self.button)
        row.addStretch(0)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        column.addWidget(self.note)  # full width: a long message wraps instead of being cut
        column.addLayout(row)

    def reset(self) -> None:
        """Back to the prompt (another model's page is shown)."""
        self._set_note(PROMPT, "note")

    @Slot()
    def save(self) -> None:
        token, endpoint = self.field.text(), self._endpoint()
        if not token.strip() or not self.button.isEnabled():
            return
        self._busy(True)
        self._set_note("Checking the token with the Hugging Face Hub...", "note")
        run_task(lambda: hub.save_token(token, endpoint), self._on_saved, self._on_refused, self)

    @Slot(object)
    def _on_saved(self, message: str) -> None:
        self._busy(False)
        self.field.clear()
        self._set_note(message, "note")
        self.saved.emit(message)

    @Slot(str)
    def _on_refused(self, message: str) -> None:
        self._busy(False)
        self.field.selectAll()
        self.field.setFocus()
        self._set_note(message, "error")
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
