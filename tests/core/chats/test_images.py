"""A message's images (data URLs) kept with the chat: stored beside its text in the real SQLite
file, read back after a restart, exported, and a history of before images still opening."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from app.core.chats import db
from app.core.chats.export import to_json, to_markdown
from app.core.chats.history import ChatHistory
from app.core.chats.salvage import salvage_file
from app.core.chats.store import ChatStore

PNG = "data:image/png;base64,iVBORw0KGgo="
JPEG = "data:image/jpeg;base64,/9j/4AAQ"


def test_images_are_kept_with_their_message_and_read_back_after_a_restart(hearth_home):
    with ChatHistory(ChatStore(hearth_home.chats_db)) as history:
        chat = history.create_chat()
        history.add_message(chat.id, "user", "What is this?", images=[PNG, JPEG])
        history.add_message(chat.id, "assistant", "A picture.")
        assert history.messages(chat.id)[0].images == (PNG, JPEG)
    with ChatHistory(ChatStore(hearth_home.chats_db)) as history:
        question, answer = history.messages(chat.id)
        assert question.content == "What is this?" and question.images == (PNG, JPEG)
        assert answer.images == ()
        # Search and titles read the text only: the base64 is not searched.
        assert [c.id for c in history.store.list_chats("What")] == [chat.id]
        assert history.store.list_chats("iVBORw0KGgo") == []


def test_a_history_written_before_images_opens_with_its_chats_whole(hearth_home):
    path = hearth_home.chats_db
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    db.MIGRATIONS[1](conn)  # the schema Hearth wrote before images
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO chats (id, title, created_at, updated_at) VALUES (1, 'Old chat', 1.0, 1.0)"
    )
    conn.execute(
        "INSERT INTO messages (id, chat_id, role, content, created_at, position) "
        "VALUES (1, 1, 'user', 'Hello from before', 1.0, 0)"
    )
    conn.close()
    with ChatStore(path) as store:
        assert store.notice == ""
        (old,) = store.messages(1)
        assert old.content == "Hello from before" and old.images == ()
        store.add_message(1, "user", "And now a picture", images=[PNG])
        assert store.messages(1)[1].images == (PNG,)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    conn.close()


def test_images_damaged_on_disk_are_left_out_and_the_chat_still_opens(hearth_home):
    with ChatStore(hearth_home.chats_db) as store:
        chat = store.create_chat()
        message = store.add_message(chat.id, "user", "Look", images=[PNG])
        for damaged in ("not json", '{"a": 1}', json.dumps([PNG, 7, "https://x/y.png"])):
            with store._write() as conn:
                conn.execute(
                    "UPDATE messages SET images_json = ? WHERE id = ?", (damaged, message.id)
                )
            (read,) = store.messages(chat.id)
            assert read.content == "Look"
            assert read.images == ((PNG,) if damaged.startswith("[") else ())


def test_exports_carry_the_images(hearth_home):
    with ChatStore(hearth_home.chats_db) as store:
        chat = store.create_chat("Pictures")
        store.add_message(chat.id, "user", "Two pictures", images=[PNG, JPEG])
        store.add_message(chat.id, "assistant", "Seen.")
        messages = store.messages(chat.id)
        exported = json.loads(to_json(store.get_chat(chat.id), messages))["messages"]
        markdown = to_markdown(store.get_chat(chat.id), messages)
    assert exported[0]["images"] == [PNG, JPEG] and "images" not in exported[1]
    assert f"![Image 1]({PNG})" in markdown and f"![Image 2]({JPEG})" in markdown


def test_salvage_keeps_the_images_and_reads_a_history_of_before_them(hearth_home, tmp_path):
    """What a damaged history's salvage copies (``salvage_file``, here from whole files: the
    fault tests damage pages): a message's images, and files of schema 1, which have none."""
    with ChatStore(hearth_home.chats_db) as store:
        chat = store.create_chat()
        store.add_message(chat.id, "user", "Look", images=[PNG])
    old = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(old, isolation_level=None)
    db.MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO chats (id, title, created_at, updated_at) VALUES (1, 'Old', 1, 1)")
    conn.execute(
        "INSERT INTO messages (id, chat_id, role, content, created_at, position) "
        "VALUES (1, 1, 'user', 'Before images', 1.0, 0)"
    )
    conn.close()
    for source, expected in ((hearth_home.chats_db, [PNG]), (old, [])):
        target = db._fresh_in_memory(None)[0]
        assert salvage_file(source, target) == (1, 1)
        (images,) = target.execute("SELECT images_json FROM messages").fetchone()
        assert json.loads(images) == expected
        target.close()


@pytest.mark.parametrize(
    "stored",
    ["[" * 100_000 + "]" * 100_000, "{", '{"a": 1}', "[1, null, []]"],
)
def test_a_damaged_images_column_leaves_the_message_and_the_chat_readable(tmp_path, stored):
    """A row's images edited or damaged on disk (nesting deep enough to exhaust Python's
    recursion, not JSON, not a list of data URLs): the chat opens with its text, no image."""
    path = tmp_path / "chats.sqlite3"
    with ChatStore(path) as store:
        chat = store.create_chat("Pictures")
        message = store.add_message(chat.id, "user", "What is this?")
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE messages SET images_json = ? WHERE id = ?", (stored, message.id))
        db.commit()
    with ChatStore(path) as store:
        (shown,) = store.messages(chat.id)
    assert shown.content == "What is this?" and shown.images == ()
