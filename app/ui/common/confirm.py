"""The one yes/no question the app asks before it forgets something for good."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def ask_yes_no(parent: QWidget, question: str) -> bool:
    """A modal "Hearth" question; True when the user answers Yes. Widgets take it as their
    ``confirm`` argument, so tests can answer for the user."""
    return QMessageBox.question(parent, "Hearth", question) == QMessageBox.StandardButton.Yes
