"""Driving the Chat page as a user does: type, press Enter, wait for the whole answer."""

from __future__ import annotations

from PySide6.QtCore import Qt

ANSWER_MS = 90_000


def ask(qtbot, page, text: str, timeout: int = ANSWER_MS):
    """Send ``text`` from the page's input with Enter; the streamed answer and its stats."""
    tokens = []
    page.session.token.connect(tokens.append)
    page.input.setPlainText(text)
    with qtbot.waitSignal(page.session.finished, timeout=timeout) as done:
        qtbot.keyClick(page.input, Qt.Key_Return)
    page.session.token.disconnect(tokens.append)
    return "".join(tokens), done.args[0]
