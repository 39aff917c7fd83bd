"""app/core/chats/history.py: the chats in memory ahead of the disk. Another program holding
the file's write lock never makes a change wait; the change is written once the lock goes,
and a quit while it is held keeps the change for the next start."""

from __future__ import annotations

import sqlite3

import pytest

from app.core.chats.history import ChatHistory, journal_of
from app.core.chats.store import ChatStore
from app.core.common.errors import ChatStoreError


@pytest.fixture
def db(hearth_home):
    return hearth_home.chats_db


def _on_disk(db) -> list[tuple]:
    """The messages as another program reads the file."""
    reader = sqlite3.connect(db)
    try:
        return reader.execute("SELECT chat_id, role, content FROM messages ORDER BY id").fetchall()
    finally:
        reader.close()


def test_changes_are_seen_at_once_and_written_behind(db):
    with ChatHistory(ChatStore(db)) as history:
        chat = history.create_chat(model="smol.gguf")
        history.add_message(chat.id, "user", "Why is the sky blue?")
        answer = history.begin_answer(chat.id)
        for piece in ("Rayleigh ", "scattering."):
            history.append_to_answer(answer, piece)
        history.finish_answer(answer, {"tokens": 3}, "stop")
        assert history.auto_title(chat.id).title == "Why is the sky blue?"
        assert [m.content for m in history.messages(chat.id)] == [
            "Why is the sky blue?",
            "Rayleigh scattering.",
        ]
        assert history.flush(60)
        kept = history.messages(chat.id)
    with ChatStore(db) as store:  # the next start reads the same
        [saved] = store.list_chats()
        assert (saved.id, saved.title) == (chat.id, "Why is the sky blue?")
        shown = store.messages(chat.id)
        assert [(m.id, m.content, m.complete) for m in shown] == [
            (m.id, m.content, m.complete) for m in kept
        ]
        assert '"stop_reason": "stop"' in shown[1].stats_json


def test_a_held_write_lock_never_makes_a_change_wait_and_nothing_is_lost(db):
    said: list[str] = []
    with ChatHistory(ChatStore(db), retry_wait_s=0.01) as history:
        history.on_trouble = said.append
        chat = history.create_chat("Kept")
        history.flush(60)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another program writes for a while
        history.add_message(chat.id, "user", "typed while the file was locked")
        history.rename_chat(chat.id, "Renamed while locked")
        assert [c.title for c in history.list_chats("locked")] == ["Renamed while locked"]
        assert history.pending == 2 and _on_disk(db) == []  # in memory, not yet on disk
        holder.execute("COMMIT")
        holder.close()
        assert history.flush(60)
        assert _on_disk(db) == [(chat.id, "user", "typed while the file was locked")]
        assert history.find("typed")() == {chat.id}  # the file's own search finds it now
    assert len(said) <= 1  # said once at most (the lock may have gone before the first try)


def test_quit_while_locked_keeps_the_changes_and_the_next_start_saves_them(db):
    with ChatHistory(ChatStore(db), retry_wait_s=0.01) as history:
        chat = history.create_chat("Before the quit")
        history.flush(60)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        message = history.add_message(chat.id, "user", "written at the last moment")
        answer = history.begin_answer(chat.id)
        history.append_to_answer(answer, "half an answer")
        history.finish_answer(answer, {}, "user")
        closed = history.close(timeout_s=0.05)
    holder.execute("COMMIT")
    holder.close()
    assert closed.unwritten == 4 and closed.journal == journal_of(db)
    assert _on_disk(db) == []

    with ChatHistory(ChatStore(db)) as again:
        assert "4 change(s)" in again.notice and "saved now" in again.notice
        shown = again.messages(chat.id)
        assert [(m.id, m.content, m.complete) for m in shown] == [
            (message.id, "written at the last moment", True),
            (answer, "half an answer", True),
        ]
        assert not journal_of(db).exists()
    with ChatHistory(ChatStore(db)) as third:
        assert third.notice == ""  # said once


def test_a_journal_still_locked_at_the_next_start_waits_for_the_one_after(db):
    with ChatHistory(ChatStore(db), retry_wait_s=0.01) as history:
        chat = history.create_chat("Locked twice")
        history.flush(60)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        history.add_message(chat.id, "user", "patience")
        history.close(timeout_s=0.05)
    store = ChatStore(db)
    store.set_busy_timeout(0.05)  # the next start meets the same lock
    with ChatHistory(store) as again:
        assert "still cannot be written" in again.notice and journal_of(db).name in again.notice
    holder.execute("COMMIT")
    holder.close()
    with ChatHistory(ChatStore(db)) as third:
        assert [m.content for m in third.messages(chat.id)] == ["patience"]


def test_ids_given_in_memory_follow_those_on_disk(db):
    with ChatStore(db) as store:
        old = store.create_chat("Old")
        store.add_message(old.id, "user", "old message")
    with ChatHistory(ChatStore(db)) as history:
        new = history.create_chat("New")
        message = history.add_message(new.id, "user", "new message")
        assert new.id > old.id and message.id > history.messages(old.id)[0].id
        history.delete_chat(old.id)
        with pytest.raises(ChatStoreError):
            history.get_chat(old.id)
        assert [c.title for c in history.list_chats()] == ["New"]


def test_a_chat_read_in_the_background_is_kept_unless_deleted_meanwhile(db):
    with ChatStore(db) as store:
        chat = store.create_chat("On disk")
        store.add_message(chat.id, "user", "from before")
    with ChatHistory(ChatStore(db)) as history:
        assert not history.loaded(chat.id)
        read = history.read_messages(chat.id)()  # what the background read returns
        history.accept_messages(chat.id, read)
        assert [m.content for m in history.messages(chat.id)] == ["from before"]
        gone = history.create_chat("Gone")
        history.delete_chat(gone.id)
        history.accept_messages(gone.id, read)
        assert not history.loaded(gone.id)


def test_a_history_that_cannot_be_saved_keeps_working_in_memory(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data folder belongs")
    db = blocker / "data" / "chats.sqlite3"
    with ChatHistory(ChatStore(db)) as history:
        assert not history.saved and "cannot save chats" in history.notice
        chat = history.create_chat("In memory")
        history.add_message(chat.id, "user", "still usable")
        assert history.flush(60)
        assert [m.content for m in history.messages(chat.id)] == ["still usable"]
        closed = history.close()
    assert closed.unwritten == 0 and not journal_of(db).exists()


def test_a_full_disk_is_said_once_and_the_message_written_once_there_is_room(db):
    said: list[str] = []
    with ChatHistory(ChatStore(db), retry_wait_s=0.01) as history:
        history.on_trouble = said.append
        chat = history.create_chat("Long")
        assert history.flush(60)
        store, conn = history.store, history.store._conn
        with store._lock:  # the file may not grow: SQLite says the disk is full
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        long_text = "a long message that needs new pages " * 2000
        history.add_message(chat.id, "user", long_text)
        history.add_message(chat.id, "user", "and one after it")
        assert [m.content for m in history.messages(chat.id)][-1] == "and one after it"
        assert not history.flush(0.3)  # still trying
        with store._lock:
            conn.execute("PRAGMA max_page_count = 1073741823")  # room again
        assert history.flush(60)
    assert len(said) == 1 and "full" in said[0] and "keeps trying" in said[0]
    with ChatStore(db) as store:
        assert [m.content for m in store.messages(chat.id)] == [long_text, "and one after it"]
