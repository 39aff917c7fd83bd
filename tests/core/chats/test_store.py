"""The chat store on real SQLite files: operations, search, streaming, crashes, damage."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from app.core.chats.db import SCHEMA_VERSION
from app.core.chats.store import DEFAULT_TITLE, TITLE_LENGTH, ChatStore
from app.core.common.errors import ChatStoreError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def db_path(hearth_home) -> Path:
    return hearth_home.chats_db


@pytest.fixture
def store(db_path):
    with ChatStore(db_path) as chat_store:
        yield chat_store


def raw(path: Path):
    """A plain sqlite3 connection, closed by the ``with`` that uses it."""
    return closing(sqlite3.connect(path))


# -- opening -------------------------------------------------------------------------------


def test_new_store_is_wal_with_foreign_keys_and_a_schema_version(db_path):
    with ChatStore(db_path) as store:
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_everything_is_there_after_reopening(db_path):
    with ChatStore(db_path) as store:
        chat = store.create_chat("Trip plans", model="qwen.gguf", system_prompt="Be brief.")
        store.add_message(chat.id, "user", "Where to in May?")
        store.add_message(chat.id, "assistant", "Lisbon.")
        chat = store.get_chat(chat.id)
    with ChatStore(db_path) as store:
        assert store.get_chat(chat.id) == chat
        assert [(m.role, m.content) for m in store.messages(chat.id)] == [
            ("user", "Where to in May?"),
            ("assistant", "Lisbon."),
        ]


def test_closed_store_says_so(db_path):
    store = ChatStore(db_path)
    store.close()
    store.close()  # twice is fine
    with pytest.raises(ChatStoreError, match="closed"):
        store.list_chats()


def test_a_file_that_is_not_sqlite_is_kept_aside_and_a_fresh_store_opens(db_path):
    db_path.write_bytes(b"these are not the chats you are looking for" * 200)
    with ChatStore(db_path) as store:
        assert store.list_chats() == []
        aside = list(db_path.parent.glob(db_path.name + ".damaged-*"))
        assert len(aside) == 1 and aside[0].name in store.notice
        assert "damaged" in store.notice
    assert aside[0].read_bytes().startswith(b"these are not")  # nothing lost
    with ChatStore(db_path) as store:
        assert store.list_chats() == [] and store.notice == ""


def test_a_corrupted_database_is_kept_aside_and_its_readable_rows_recovered(db_path):
    with ChatStore(db_path) as store:
        chat = store.create_chat()
        for i in range(300):
            store.add_message(chat.id, "user", f"message {i} " + "x" * 500)
    size = db_path.stat().st_size
    assert size > 20 * 4096
    with open(db_path, "r+b") as f:  # scribble over the pages after the schema page
        f.seek(4096 * 2)
        f.write(bytes(random.Random(1).randrange(256) for _ in range(4096 * 8)))
    original = db_path.read_bytes()
    with ChatStore(db_path) as store:
        assert "damaged" in store.notice and "recovered" in store.notice
        assert [c.id for c in store.list_chats()] == [chat.id]  # its row was on page 2
        # The messages' root page was overwritten: none can be reached (the fault tests
        # damage single pages and count what is recovered).
        assert store.messages(chat.id) == []
    [aside] = db_path.parent.glob(db_path.name + ".damaged-*")
    assert aside.read_bytes() == original


def test_a_store_from_a_newer_hearth_is_shown_and_left_alone(db_path):
    with ChatStore(db_path) as store:
        store.create_chat("From today")
    with raw(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.commit()
    with ChatStore(db_path) as store:
        assert "newer Hearth" in store.notice and not store.saved
        assert [chat.title for chat in store.list_chats()] == ["From today"]
    assert db_path.exists()
    assert not list(db_path.parent.glob("*.damaged-*"))
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


# -- chats ---------------------------------------------------------------------------------


def test_create_chat_defaults(store):
    chat = store.create_chat()
    assert chat.title == DEFAULT_TITLE
    assert (chat.model, chat.system_prompt, chat.settings_json) == ("", "", "{}")
    assert chat.created_at == chat.updated_at
    assert abs(chat.created_at - time.time()) < 60


def test_missing_chat_is_a_plain_error(store):
    with pytest.raises(ChatStoreError, match="no longer exists"):
        store.get_chat(12345)
    with pytest.raises(ChatStoreError, match="no longer exists"):
        store.add_message(12345, "user", "hello")
    with pytest.raises(ChatStoreError, match="no longer exists"):
        store.begin_answer(12345)
    assert store.messages(12345) == []


def test_list_chats_most_recently_active_first(store):
    first = store.create_chat("first")
    second = store.create_chat("second")
    third = store.create_chat("third")
    assert [c.title for c in store.list_chats()] == ["third", "second", "first"]
    store.add_message(first.id, "user", "back to this one")
    assert [c.id for c in store.list_chats()] == [first.id, third.id, second.id]


def test_rename_chat_keeps_one_line(store):
    chat = store.create_chat()
    assert store.rename_chat(chat.id, "  Line one\nline two ").title == "Line one line two"
    assert store.rename_chat(chat.id, "   ").title == DEFAULT_TITLE
    assert store.get_chat(chat.id).title == DEFAULT_TITLE


def test_update_chat_changes_only_what_is_given(store):
    chat = store.create_chat(model="a.gguf", system_prompt="old")
    updated = store.update_chat(chat.id, model="b.gguf")
    assert (updated.model, updated.system_prompt) == ("b.gguf", "old")
    updated = store.update_chat(chat.id, system_prompt="new", settings_json='{"temp": 0.2}')
    assert (updated.model, updated.system_prompt) == ("b.gguf", "new")
    assert json.loads(updated.settings_json) == {"temp": 0.2}
    with pytest.raises(ValueError):
        store.update_chat(chat.id, settings_json="[1, 2]")
    with pytest.raises(ValueError):
        store.update_chat(chat.id, settings_json="{not json")
    assert store.get_chat(chat.id) == updated


def test_delete_chat_deletes_its_messages_and_answer_pieces(store, db_path):
    keep = store.create_chat("keep")
    store.add_message(keep.id, "user", "stay")
    chat = store.create_chat("go")
    store.add_message(chat.id, "user", "question")
    answer = store.begin_answer(chat.id)
    store.append_to_answer(answer, "half an ans")
    store.delete_chat(chat.id)
    assert [c.title for c in store.list_chats()] == ["keep"]
    assert store.messages(chat.id) == []
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM answer_chunks").fetchone()[0] == 0
    assert store.list_chats("question") == []
    with pytest.raises(ChatStoreError):
        store.append_to_answer(answer, "wer")  # the worker learns its answer is gone


# -- search --------------------------------------------------------------------------------


@pytest.fixture(params=[None, False], ids=["fts5", "like"])
def search_store(request, db_path):
    with ChatStore(db_path, fts=request.param) as store:
        if request.param is None:
            assert store.fts, "this Python's SQLite has FTS5; the store should use it"
        cooking = store.create_chat("Cooking rice")
        store.add_message(cooking.id, "user", "How long do I boil basmati?")
        code = store.create_chat("Python help")
        store.add_message(code.id, "user", "Why do I get a KeyError here?")
        store.add_message(code.id, "assistant", "The dict has no key 'name'. Use .get()")
        store.create_chat("Budget 100% done_final")
        store.create_chat("Budget 1000 draft")
        yield store


@pytest.mark.parametrize(
    "search, titles",
    [
        ("", ["Budget 1000 draft", "Budget 100% done_final", "Python help", "Cooking rice"]),
        ("cooking", ["Cooking rice"]),  # title, any case
        ("BASMATI", ["Cooking rice"]),  # message content, any case
        ("keyerr", ["Python help"]),  # start of a word in a message
        ("boil basmati", ["Cooking rice"]),  # every word, in one message
        ("boil keyerror", []),  # words in different chats match nothing
        ("budget", ["Budget 1000 draft", "Budget 100% done_final"]),
        ("100%", ["Budget 100% done_final"]),  # % is not a wildcard
        ("o_f", []),  # _ is not a wildcard
        ("done_final", ["Budget 100% done_final"]),
        ('"', []),
        ("--", []),
        ("nothing-like-this", []),
    ],
)
def test_search_finds_titles_and_message_contents(search_store, search, titles):
    assert [c.title for c in search_store.list_chats(search)] == titles


def test_search_follows_edits_truncation_and_interrupted_answers(db_path):
    with ChatStore(db_path) as store:
        chat = store.create_chat()
        question = store.add_message(chat.id, "user", "tell me about walruses")
        store.add_message(chat.id, "assistant", "Walruses are large pinnipeds.")
        store.edit_message(question.id, "tell me about narwhals")
        assert store.list_chats("walruses") == [store.get_chat(chat.id)]  # still in the answer
        store.truncate_after(chat.id, question.position)
        assert store.list_chats("walruses") == []
        assert [c.id for c in store.list_chats("narwhals")] == [chat.id]
        answer = store.begin_answer(chat.id)
        store.append_to_answer(answer, "Narwhals have a long tusk")
    with ChatStore(db_path) as store:  # the interrupted answer is searchable after reopening
        assert [c.id for c in store.list_chats("tusk")] == [chat.id]
        with raw(db_path) as conn:
            conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


# -- messages ------------------------------------------------------------------------------


def test_messages_come_back_in_order_with_positions(store):
    chat = store.create_chat()
    sent = [
        store.add_message(chat.id, role, f"text {i}")
        for i, role in enumerate(["system", "user", "assistant", "user"])
    ]
    got = store.messages(chat.id)
    assert got == sent
    assert [m.position for m in got] == [0, 1, 2, 3]
    assert all(m.complete and m.chat_id == chat.id for m in got)
    assert store.get_message(sent[2].id) == sent[2]


def test_add_message_refuses_an_unknown_role(store):
    chat = store.create_chat()
    with pytest.raises(ValueError, match="role"):
        store.add_message(chat.id, "tool", "x")
    assert store.messages(chat.id) == []


def test_truncate_after_then_continue(store):
    chat = store.create_chat()
    for i in range(5):
        store.add_message(chat.id, "user" if i % 2 == 0 else "assistant", f"m{i}")
    assert store.truncate_after(chat.id, 2) == 2
    assert [m.content for m in store.messages(chat.id)] == ["m0", "m1", "m2"]
    assert store.truncate_after(chat.id, 2) == 0
    again = store.add_message(chat.id, "assistant", "regenerated")
    assert again.position == 3


def test_edit_message(store):
    chat = store.create_chat()
    question = store.add_message(chat.id, "user", "What is 2+2?")
    store.add_message(chat.id, "assistant", "4")
    edited = store.edit_message(question.id, "What is 3+3?")
    assert (edited.id, edited.position, edited.content) == (question.id, 0, "What is 3+3?")
    assert [m.content for m in store.messages(chat.id)] == ["What is 3+3?", "4"]
    with pytest.raises(ChatStoreError):
        store.edit_message(99999, "x")


@pytest.mark.parametrize(
    "first_message, title",
    [
        ("How do I sort a list?", "How do I sort a list?"),
        ("\n\n   Summarise   this\tarticle\nplease, in bullets", "Summarise this article"),
        (
            "Explain the difference between processes and threads in detail",
            "Explain the difference between…",
        ),
        ("x" * 100, "x" * TITLE_LENGTH + "…"),
    ],
)
def test_auto_title_from_the_first_user_message(store, first_message, title):
    chat = store.create_chat()
    store.add_message(chat.id, "system", "You are helpful.")
    store.add_message(chat.id, "user", first_message)
    store.add_message(chat.id, "user", "second question")
    titled = store.auto_title(chat.id)
    assert titled.title == title
    assert "\n" not in titled.title and len(titled.title) <= TITLE_LENGTH + 1
    assert store.get_chat(chat.id).title == title


def test_auto_title_leaves_a_chosen_title_and_an_empty_chat(store):
    named = store.create_chat("My own title")
    store.add_message(named.id, "user", "something else")
    assert store.auto_title(named.id).title == "My own title"
    empty = store.create_chat()
    assert store.auto_title(empty.id).title == DEFAULT_TITLE


# -- streaming -----------------------------------------------------------------------------


def test_streaming_an_answer(store):
    chat = store.create_chat()
    store.add_message(chat.id, "user", "Count to three")
    answer_id = store.begin_answer(chat.id)
    partial = store.messages(chat.id)[-1]
    assert (partial.id, partial.role, partial.content, partial.complete) == (
        answer_id,
        "assistant",
        "",
        False,
    )
    for token in ["One", ",", " two", "", ", three", "."]:
        store.append_to_answer(answer_id, token)
    partial = store.get_message(answer_id)
    assert (partial.content, partial.complete) == ("One, two, three.", False)
    done = store.finish_answer(answer_id, {"tokens": 6, "tokens_per_second": 41.5}, "stop")
    assert (done.content, done.complete, done.position) == ("One, two, three.", True, 1)
    assert json.loads(done.stats_json) == {
        "tokens": 6,
        "tokens_per_second": 41.5,
        "stop_reason": "stop",
    }
    assert store.messages(chat.id)[-1] == done
    with pytest.raises(ChatStoreError, match="finished"):
        store.append_to_answer(answer_id, "more")


def test_regenerate_deletes_the_answer_being_written(store):
    chat = store.create_chat()
    question = store.add_message(chat.id, "user", "Hi")
    answer_id = store.begin_answer(chat.id)
    store.append_to_answer(answer_id, "Hel")
    store.truncate_after(chat.id, question.position)
    with pytest.raises(ChatStoreError, match="deleted"):
        store.append_to_answer(answer_id, "lo")
    new_answer = store.begin_answer(chat.id)
    store.append_to_answer(new_answer, "Hello!")
    store.finish_answer(new_answer, {}, "stop")
    assert [m.content for m in store.messages(chat.id)] == ["Hi", "Hello!"]


def test_an_answer_cut_off_is_interrupted_after_reopening(db_path):
    with ChatStore(db_path) as store:
        chat = store.create_chat()
        store.add_message(chat.id, "user", "Write a poem")
        answer_id = store.begin_answer(chat.id)
        for token in ["Roses", " are", " red"]:
            store.append_to_answer(answer_id, token)
    with ChatStore(db_path) as store:
        answer = store.messages(chat.id)[-1]
        assert (answer.id, answer.content, answer.complete) == (answer_id, "Roses are red", False)
    with raw(db_path) as conn:  # the pieces were folded into the message
        assert conn.execute("SELECT COUNT(*) FROM answer_chunks").fetchone()[0] == 0
        assert (
            conn.execute("SELECT content FROM messages WHERE id = ?", (answer_id,)).fetchone()[0]
            == "Roses are red"
        )


def test_appends_stay_cheap_as_the_answer_grows(store):
    """2,000 committed appends: the late ones cost about what the early ones did (no O(n²))."""
    chat = store.create_chat()
    answer_id = store.begin_answer(chat.id)
    costs = []
    for i in range(2000):
        before = time.perf_counter()
        store.append_to_answer(answer_id, f" token{i}")
        costs.append(time.perf_counter() - before)
    # Rewriting the whole text per token (and re-indexing it for search) made the last
    # appends ~5-10x dearer than the first; pieces in their own rows cost the same throughout.
    early, late = statistics.median(costs[:200]), statistics.median(costs[-200:])
    assert late < 2 * early + 0.0001, (early, late)
    done = store.finish_answer(answer_id, {}, "length")
    assert done.content == "".join(f" token{i}" for i in range(2000))


def test_a_worker_thread_streams_while_the_gui_thread_works(store):
    chat = store.create_chat()
    other = store.create_chat()
    answer_id = store.begin_answer(chat.id)
    errors = []

    def worker():
        try:
            for i in range(400):
                store.append_to_answer(answer_id, f"<{i}>")
            store.finish_answer(answer_id, {"tokens": 400}, "stop")
        except Exception as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=worker, name="answer-worker")
    thread.start()
    for i in range(100):
        store.add_message(other.id, "user", f"note {i}")
        store.list_chats("note")
        store.messages(chat.id)
    thread.join(timeout=30)
    assert not thread.is_alive() and errors == []
    answer = store.get_message(answer_id)
    assert answer.complete and answer.content == "".join(f"<{i}>" for i in range(400))
    assert len(store.messages(other.id)) == 100


# -- other processes -----------------------------------------------------------------------

CHILD = r"""
import sys, time
from pathlib import Path
from app.core.chats.store import ChatStore

mode, db, chat_id, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = ChatStore(db)
if mode == "append":
    message_id = int(sys.argv[5])
    for i in range(count):
        store.append_to_answer(message_id, f"<{i}>")
        print(i + 1, flush=True)
    print("done", flush=True)
    sys.stdin.readline()  # wait to be killed
elif mode == "stream":
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    message_id = store.begin_answer(chat_id)
    for i in range(count):
        store.append_to_answer(message_id, f"<{i}>")
    store.finish_answer(message_id, {}, "stop")
    print(started, time.time(), message_id, flush=True)
elif mode == "add":
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    for i in range(count):
        store.add_message(chat_id, "user", f"note {i}")
        if i % 10 == 0:
            store.list_chats("note")
    print(started, time.time(), flush=True)
store.close()
"""


def child(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, args)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.faults
@pytest.mark.parametrize("seed", range(6))
def test_killed_mid_answer_keeps_every_reported_token(db_path, seed):
    target = random.Random(seed).randint(1, 600 if seed else 3)  # seed 0: right at the start
    with ChatStore(db_path) as store:
        chat = store.create_chat()
        store.add_message(chat.id, "user", "Go on forever")
        answer_id = store.begin_answer(chat.id)
    reported = 0
    with child("append", db_path, chat.id, 2000, answer_id) as proc:
        watchdog = threading.Timer(30, proc.kill)
        watchdog.start()
        try:
            while reported < target:
                line = proc.stdout.readline()
                assert line.strip().isdigit(), (line, proc.stderr.read() if not line else "")
                reported = int(line)
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        finally:
            watchdog.cancel()
            watchdog.join()
    assert proc.returncode == -signal.SIGKILL
    with ChatStore(db_path) as store:
        answer = store.messages(chat.id)[-1]
    expected = "".join(f"<{i}>" for i in range(2000))
    assert answer.id == answer_id and not answer.complete
    assert expected.startswith(answer.content)  # in order, nothing torn or missing between
    assert answer.content.count("<") >= reported
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


@pytest.mark.faults
def test_two_processes_write_at_once(db_path):
    with ChatStore(db_path) as store:
        chat = store.create_chat()
        store.add_message(chat.id, "user", "start")
    with (
        child("stream", db_path, chat.id, 1500) as streamer,
        child("add", db_path, chat.id, 200) as adder,
    ):
        for proc in (streamer, adder):
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        for proc in (streamer, adder):
            proc.stdin.write("go\n")
            proc.stdin.flush()
        stream_out, stream_err = streamer.communicate(timeout=60)
        add_out, add_err = adder.communicate(timeout=60)
    assert streamer.returncode == 0, stream_err
    assert adder.returncode == 0, add_err
    s_start, s_end, answer_id = stream_out.split()
    a_start, a_end = map(float, add_out.split())
    assert float(s_start) < a_end and a_start < float(s_end), "the two did not overlap"
    with ChatStore(db_path) as store:
        messages = store.messages(chat.id)
        answer = store.get_message(int(answer_id))
    assert [m.position for m in messages] == list(range(202))
    assert sorted(m.content for m in messages if m.content.startswith("note ")) == sorted(
        f"note {i}" for i in range(200)
    )
    assert answer.complete and answer.content == "".join(f"<{i}>" for i in range(1500))
