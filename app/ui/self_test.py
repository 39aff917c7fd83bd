"""``hearth --self-test``: open the real window, chat once with the first local model, quit.

Used to check an install or a bundle end to end (and to take README screenshots): prints the
answer on stdout and exits 0 when a streamed answer arrived, 1 otherwise.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow

PROMPT = "Hello! In one sentence, what can you do?"


class SelfTest(QObject):
    def __init__(self, window: MainWindow, screenshot: str | None, timeout_s: int) -> None:
        super().__init__(window)
        self.window = window
        self.screenshot = screenshot
        self.result = 1
        window.opened.connect(self._watch)  # run_gui's window opens after its first paint
        QTimer.singleShot(timeout_s * 1000, self._timeout)

    @Slot()
    def _watch(self) -> None:
        window = self.window
        window.session.loaded.connect(self._send)
        window.session.load_failed.connect(self._fail)
        window.chat_page.answer_finished.connect(self._done)
        window.chat_page.answer_failed.connect(self._fail)

    @Slot()
    def _send(self) -> None:
        page = self.window.chat_page
        page.input.setPlainText(PROMPT)
        page.send()

    @Slot()
    def _done(self) -> None:
        answer = self.window.chat_page.answer_text().strip()
        print(answer)
        self.result = 0 if answer else 1
        if self.screenshot:
            self.window.grab().save(self.screenshot)
        QApplication.quit()

    @Slot(str)
    def _fail(self, message: str) -> None:
        print(f"Self-test failed: {message}", file=sys.stderr)
        QApplication.quit()

    @Slot()
    def _timeout(self) -> None:
        self._fail("no answer in time")
