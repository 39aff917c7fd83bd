"""Chat while another program holds the chat history's write lock (a real second process):
typing, sending, renaming and searching go on, the window's event loop keeps running, and
every change reaches the file once the lock goes, or the next start when Hearth quits first."""

from __future__ import annotations

import sqlite3
import sys

import pytest
from PySide6.QtCore import QProcess, QTimer

from app.core.chats.store import ChatStore
from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.ui.main_window import MainWindow
from tests.support.chat_ui import ANSWER_MS

LOAD_MS = 60_000
HOLD_S = 2.0  # how long the other program keeps the lock (and the baseline lasts)


class LockHolder:
    """``tests.ui.chat.lock_holder`` in a QProcess: the test waits for its lines with the
    event loop running, as the window does."""

    def __init__(self, qtbot, db) -> None:
        self.qtbot = qtbot
        self.lines: list[str] = []
        self.process = QProcess()
        self.process.setProgram(sys.executable)
        self.process.setArguments(["-m", "tests.ui.chat.lock_holder", str(db)])
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.start()
        assert self.process.waitForStarted(30_000)

    def _read(self) -> None:
        data = bytes(self.process.readAllStandardOutput().data()).decode()
        self.lines += data.split()

    def send(self, command: str) -> None:
        self.lines.clear()
        self.process.write(f"{command}\n".encode())

    def wait_for(self, line: str) -> None:
        self.qtbot.waitUntil(lambda: line in self.lines, timeout=60_000)

    def close(self) -> None:
        self.process.closeWriteChannel()
        self.process.waitForFinished(30_000)


class Ticks:
    """A 10 ms timer on the GUI thread: how often the event loop came round."""

    def __init__(self) -> None:
        self.count = 0
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        self.count += 1

    def stop(self) -> None:
        self.timer.stop()


@pytest.fixture
def old_chat(starter_home):
    """A chat from an earlier session: on disk, not read until it is opened."""
    with ChatStore(starter_home.chats_db) as store:
        chat = store.create_chat("Recipes")
        store.add_message(chat.id, "user", "How long do I knead bread dough?")
    return chat.id


@pytest.fixture
def window(qtbot, starter_home):
    chosen = Sampling(max_tokens=24, temperature=0.0, seed=1)
    win = MainWindow(starter_home, Settings(sampling=chosen))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        win.show()
    yield win
    win.shutdown()


@pytest.fixture
def holder(qtbot, starter_home):
    started = LockHolder(qtbot, starter_home.chats_db)
    yield started
    started.close()


def _user_messages(db, text: str) -> int:
    reader = sqlite3.connect(db)
    try:
        return reader.execute(
            "SELECT COUNT(*) FROM messages WHERE role = 'user' AND content = ?", (text,)
        ).fetchone()[0]
    finally:
        reader.close()


def test_send_rename_and_search_go_on_while_another_program_holds_the_lock(
    window, holder, qtbot, starter_home
):
    page = window.chat_page
    other = page.store.create_chat("Gardening")  # a chat to rename while locked
    ticks = Ticks()
    holder.send(f"wait {HOLD_S}")  # the baseline: the same time, nothing locked
    holder.wait_for("waiting")
    before = ticks.count
    holder.wait_for("done")
    baseline = ticks.count - before

    holder.send(f"hold {HOLD_S}")
    holder.wait_for("locked")
    before = ticks.count
    page.input.setPlainText("Name the capital city of France.")
    page.send()
    row = page.chats.row_of(other.id)
    assert page.chats.setData(page.chats.index(row), "Roses and tulips")
    page.sidebar.search.setText("tulips")
    assert [page.chats.index(r).data() for r in range(page.chats.rowCount())] == [
        "Roses and tulips"
    ]
    assert "Name the capital city of France." in page.transcript.toPlainText()
    holder.wait_for("done")
    during = ticks.count - before
    ticks.stop()
    # The event loop went on while the file was locked. Before, the first write blocked the GUI
    # thread until the lock went (a 10 s busy timeout): no tick at all in that time.
    assert during >= baseline / 4, (during, baseline)

    page.sidebar.search.clear()
    with qtbot.waitSignal(page.answer_finished, timeout=ANSWER_MS):
        pass  # announced once the answer is on disk, after the lock went
    assert page.store.flush(60)
    db = starter_home.chats_db
    assert _user_messages(db, "Name the capital city of France.") == 1  # stored once
    reader = sqlite3.connect(db)
    titles = {row[0] for row in reader.execute("SELECT title FROM chats")}
    answers = reader.execute("SELECT content FROM messages WHERE role = 'assistant'").fetchall()
    reader.close()
    assert {"Roses and tulips", "Name the capital city of France."} <= titles
    assert "Paris" in answers[0][0]
    assert "locked" in window.banner_text.text() and "keeps trying" in window.banner_text.text()


def test_switching_chats_and_quitting_while_locked_keeps_the_chat_for_the_next_start(
    old_chat, window, holder, qtbot, starter_home
):
    page = window.chat_page
    holder.send("lock")
    holder.wait_for("locked")
    page.input.setPlainText("Name the capital city of France.")
    page.send()
    qtbot.waitUntil(lambda: page.answer.reply is None, timeout=ANSWER_MS)  # answered, in memory
    chat_id = page.chat_id
    assert not page.store.loaded(old_chat)
    page.open_chat(old_chat)  # read in the background: the lock stops no reader
    qtbot.waitUntil(lambda: "knead" in page.transcript.toPlainText())
    page.open_chat(chat_id)  # in memory: shown at once
    assert "Paris" in page.transcript.toPlainText()
    assert "locked" in holder.lines  # the other program still holds the lock
    window.shutdown()  # waits a bounded time, then keeps the changes aside
    journal = starter_home.chats_db.with_name("chats.sqlite3.unsaved")
    assert journal.is_file()
    assert _user_messages(starter_home.chats_db, "Name the capital city of France.") == 0
    holder.send("unlock")
    holder.wait_for("done")

    again = MainWindow(starter_home, Settings(last_chat=chat_id))
    qtbot.addWidget(again)
    try:
        assert "saved now" in again.banner_text.text()
        shown = again.chat_page.transcript.toPlainText()
        assert "Name the capital city of France." in shown and "Paris" in shown
        assert _user_messages(starter_home.chats_db, "Name the capital city of France.") == 1
        assert not journal.exists()
    finally:
        again.shutdown()
