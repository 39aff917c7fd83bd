"""A studio killed (SIGKILL) mid-answer reopens its chat with every saved token.

The studio streams an answer in chunks (the tokens of ~30 ms each); it is killed after a random
number of chunks have been shown."""

import random
import sqlite3

import pytest

from app.core.chats.store import ChatStore
from app.core.config.settings import Settings
from app.ui.main_window import MainWindow
from tests.support.studio_kill import studio_then_kill


@pytest.mark.parametrize("after_chunks", sorted(random.Random(11).sample(range(1, 40), 3)))
def test_killed_mid_answer_reopens_with_every_saved_token(starter_home, qtbot, after_chunks):
    chat_id, tokens = studio_then_kill(after_chunks)
    assert chat_id and len(tokens) == after_chunks
    with sqlite3.connect(starter_home.chats_db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    store = ChatStore(starter_home.chats_db)
    messages = store.messages(chat_id)
    store.close()
    answer = messages[-1]
    assert answer.role == "assistant" and not answer.complete
    assert answer.content.startswith("".join(tokens))  # nothing the user saw is lost

    window = MainWindow(starter_home, Settings(last_chat=chat_id))
    qtbot.addWidget(window)
    shown = window.chat_page.transcript.toPlainText()
    first_words = " ".join("".join(tokens).split()[:3])
    assert first_words and first_words.strip("*#_`") in shown
    assert "Interrupted" in shown
    window.shutdown()
