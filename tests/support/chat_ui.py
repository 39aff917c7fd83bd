"""Driving the Chat page as a user does: type, press Enter, wait for the whole answer; or press
Stop once the answer has begun."""

from __future__ import annotations

from PySide6.QtCore import Qt

ANSWER_MS = 90_000


def ask(qtbot, page, text: str, timeout: int = ANSWER_MS):
    """Send ``text`` from the page's input with Enter; the streamed answer and its stats."""
    tokens = []
    page.answer_token.connect(tokens.append)
    page.input.setPlainText(text)
    with qtbot.waitSignal(page.answer_finished, timeout=timeout) as done:
        qtbot.keyClick(page.input, Qt.Key_Return)
    page.answer_token.disconnect(tokens.append)
    return "".join(tokens), done.args[0]


def stop_mid_answer(qtbot, page, timeout: int = ANSWER_MS):
    """Ask for a long story, press Stop as soon as it streams; the chunks shown and the stats.
    While it streams, Stop is the button to press and Send is not."""
    page.panel.max_tokens.setValue(400)
    tokens = []
    page.answer_token.connect(tokens.append)
    page.input.setPlainText("Write a long story about a lighthouse keeper.")
    with qtbot.waitSignal(page.answer_token, timeout=timeout):
        qtbot.mouseClick(page.send_button, Qt.LeftButton)
    assert page.stop_button.isEnabled() and not page.send_button.isEnabled()
    with qtbot.waitSignal(page.answer_finished, timeout=timeout) as done:
        qtbot.mouseClick(page.stop_button, Qt.LeftButton)
    page.answer_token.disconnect(tokens.append)
    return tokens, done.args[0]
