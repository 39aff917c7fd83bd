"""Damaged, foreign and unwritable SQLite stores (chat history, arena votes, measurements).

Each case damages a real file the way a disk, a crash, another program or a hand edit would,
then opens it with the studio's own code. Recovered: the store opens, nothing readable is lost,
the damaged file is kept aside (never deleted, never changed), one sentence says what happened,
and the next start says nothing more. The studio cases start the real window in a child
process (``tests.support.studio_start``): it must come up with the message shown, where the
studio used to abort with exit 134.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from app.core.chats.db import SCHEMA_VERSION
from app.core.chats.store import ChatStore
from app.core.compare.arena import ArenaStore, arena_db
from app.core.config.settings import Settings
from app.core.measure.store import MeasureStore, measurements_db
from tests.faults.history_forge import (
    leaf_pages_of,
    make_history,
    overwrite_page,
    pages_of,
    readable_messages,
    stored_messages,
)
from tests.faults.tally import CrashDetected

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root reads and writes any file
JUNK = bytes(random.Random(16).randrange(256) for _ in range(64 * 1024))


def kept(path: Path, label: str = "damaged") -> list[Path]:
    """What was set aside for ``path`` (not its side files)."""
    return sorted(
        p
        for p in path.parent.glob(f"{path.name}.{label}-*")
        if not p.name.endswith(("-wal", "-shm"))
    )


def reopened_quietly(path: Path) -> ChatStore:
    store = ChatStore(path)
    assert store.notice == "", "the problem was reported again at the next start"
    return store


@pytest.fixture
def db(hearth_home) -> Path:
    return hearth_home.chats_db


@pytest.fixture
def history(db) -> dict[int, str]:
    return make_history(db)


# -- the chat history: damaged -------------------------------------------------------------


def test_random_bytes_are_kept_aside_and_a_new_history_starts(faults, db):
    with faults.inject("chats.sqlite3 holds random bytes"):
        db.write_bytes(JUNK)
        with ChatStore(db) as store:
            assert store.list_chats() == [] and store.saved
            [aside] = kept(db)
            assert aside.name in store.notice and "could be read" in store.notice
            store.create_chat("works")
        assert aside.read_bytes() == JUNK
        reopened_quietly(db).close()


def test_a_truncated_history_keeps_every_readable_message(faults, db, history):
    with faults.inject("chats.sqlite3 truncated to 40%"):
        with open(db, "r+b") as file:
            file.truncate(db.stat().st_size * 4 // 10)
        readable = readable_messages(db)
        assert readable, "the damage left nothing to recover: the case tests nothing"
        with ChatStore(db) as store:
            shown = stored_messages(store)
            assert readable.items() <= shown.items()
            assert f"with {len(shown)} message(s) were recovered" in store.notice
            assert kept(db)[0].name in store.notice
        reopened_quietly(db).close()


@pytest.mark.parametrize(
    "name",
    ["sqlite_autoindex_messages_1", "chats_updated", "answer_chunks_message", "messages_fts_data"],
)
def test_one_damaged_index_page_loses_nothing(faults, db, history, name):
    with faults.inject(f"chats.sqlite3: one page of {name} overwritten"):
        pages = pages_of(db, name)
        original = db.read_bytes()
        overwrite_page(db, pages[len(pages) // 2], JUNK)
        damaged = db.read_bytes()
        assert damaged != original
        with ChatStore(db) as store:
            assert stored_messages(store) == history  # all 600, word for word
            assert len(store.list_chats()) == 20
            assert "20 chat(s) with 600 message(s) were recovered" in store.notice
            assert len(store.list_chats("lighthouse keeper")) == 20  # the search index rebuilt
        assert kept(db)[0].read_bytes() == damaged
        reopened_quietly(db).close()


def test_one_damaged_data_page_costs_only_its_rows(faults, db, history):
    with faults.inject("chats.sqlite3: one leaf page of messages overwritten"):
        leaves = leaf_pages_of(db, "messages")
        overwrite_page(db, leaves[len(leaves) // 2], JUNK)
        readable = readable_messages(db)
        assert 500 < len(readable) < len(history)
        with ChatStore(db) as store:
            shown = stored_messages(store)
            assert shown == readable
            assert len(store.list_chats()) == 20
            assert f"20 chat(s) with {len(readable)} message(s) were recovered" in store.notice


def test_a_lost_chat_row_keeps_its_messages(faults, db, history):
    with faults.inject("chats.sqlite3: the chats table's page overwritten"):
        overwrite_page(db, pages_of(db, "chats")[0], JUNK)
        with ChatStore(db) as store:
            assert stored_messages(store) == history
            assert {chat.title for chat in store.list_chats()} == {"Recovered chat"}


# -- the chat history: not a usable file ----------------------------------------------------


def test_a_folder_where_the_history_belongs(faults, db):
    with faults.inject("chats.sqlite3 is a folder"):
        db.mkdir()
        (db / "keep.txt").write_text("mine")
        with ChatStore(db) as store:
            [aside] = kept(db)
            assert aside.name in store.notice and "not a file" in store.notice
            store.create_chat("works")
        assert (aside / "keep.txt").read_text() == "mine"
        reopened_quietly(db).close()


def test_a_history_that_cannot_be_opened(faults, db):
    with faults.inject("chats.sqlite3 is a link to itself"):
        db.symlink_to(db.name)
        with ChatStore(db) as store:
            [aside] = kept(db)
            assert aside.is_symlink() and aside.name in store.notice
            assert store.saved
        reopened_quietly(db).close()


@pytest.mark.skipif(AS_ROOT, reason="root can read a file whatever its permissions")
def test_an_unreadable_history_is_kept_aside(faults, db, history):
    with faults.inject("chats.sqlite3 unreadable (mode 000)"):
        db.chmod(0)
        with ChatStore(db) as store:
            [aside] = kept(db, "unreadable")
            assert "could not be read" in store.notice and aside.name in store.notice
        aside.chmod(0o600)
        assert len(readable_messages(aside)) == 600


def test_a_history_from_a_newer_hearth_is_shown_and_left_alone(faults, db, history):
    with faults.inject("chats.sqlite3 has a newer user_version"):
        with closing(sqlite3.connect(db)) as conn:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            conn.commit()
        before = db.read_bytes()
        with ChatStore(db) as store:
            assert stored_messages(store) == history
            assert not store.saved and "newer Hearth" in store.notice
            store.create_chat("kept in memory only")
        assert db.read_bytes() == before and not kept(db)


def test_another_programs_database_with_a_chats_table(faults, db):
    with faults.inject("chats.sqlite3 is another program's database with a chats table"):
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("CREATE TABLE chats (id INTEGER PRIMARY KEY, peer TEXT, body BLOB)")
            conn.executemany(
                "INSERT INTO chats (peer, body) VALUES (?, ?)",
                [(f"peer {i}", b"\x00" * 50) for i in range(100)],
            )
            conn.commit()
        before = db.read_bytes()
        with ChatStore(db) as store:
            assert store.list_chats() == []
            [aside] = kept(db, "not-hearth")
            assert aside.name in store.notice and "another program" in store.notice
            store.create_chat("works")
        assert aside.read_bytes() == before
        reopened_quietly(db).close()


def foreign_wal(folder: Path) -> bytes:
    """The -wal another program left behind when it was killed (never checkpointed)."""
    other = folder / "other.db"
    conn = sqlite3.connect(other, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.executemany("INSERT INTO notes VALUES (?)", [("note",)] * 50)
    data = other.with_name("other.db-wal").read_bytes()
    conn.close()
    return data


def test_a_foreign_wal_never_replaces_the_history(faults, db, history, tmp_path):
    with faults.inject("another program's -wal next to chats.sqlite3"):
        wal = foreign_wal(tmp_path)
        db.with_name(db.name + "-wal").write_bytes(wal)
        with ChatStore(db) as store:
            assert stored_messages(store) == history
            [aside] = db.parent.glob(db.name + ".foreign-*-wal")
            assert aside.read_bytes() == wal
            assert "chats.sqlite3-wal" in store.notice and aside.name in store.notice
        reopened_quietly(db).close()


def test_a_wal_of_another_hearth_history_loses_nothing(faults, db, history, tmp_path):
    with faults.inject("another Hearth history's -wal next to chats.sqlite3"):
        other = tmp_path / "other.sqlite3"
        make_history(other, chats=3, per_chat=4)
        conn = sqlite3.connect(other, isolation_level=None)
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("UPDATE messages SET content = 'overwritten'")
        db.with_name(db.name + "-wal").write_bytes(
            other.with_name(other.name + "-wal").read_bytes()
        )
        conn.close()
        with ChatStore(db) as store:
            shown = stored_messages(store)
            assert all(shown.get(i) == text for i, text in history.items()), (
                "a message of the history was lost or changed"
            )


# -- the chat history: nowhere to write ------------------------------------------------------


def test_a_data_folder_that_cannot_be_created(faults, hearth_home, tmp_path):
    with faults.inject("the data folder's parent is a file"):
        blocker = tmp_path / "blocker"
        blocker.write_text("a file, not a folder")
        with ChatStore(blocker / "data" / "chats.sqlite3") as store:
            assert not store.saved and "cannot save chats" in store.notice
            chat = store.create_chat("in memory")
            store.add_message(chat.id, "user", "still usable")
            assert [m.content for m in store.messages(chat.id)] == ["still usable"]


@pytest.mark.skipif(AS_ROOT, reason="root writes into a read-only folder")
def test_a_read_only_data_folder_shows_the_chats(faults, db, history):
    with faults.inject("the data folder is read-only"):
        db.parent.chmod(0o555)
        try:
            with ChatStore(db) as store:
                assert stored_messages(store) == history
                assert not store.saved and "cannot save chats" in store.notice
        finally:
            db.parent.chmod(0o755)


_FULL_DISK_CHILD = """
import json, resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from app.core.chats.store import ChatStore
store = ChatStore(Path(sys.argv[1]))
chat = store.create_chat("this session")
print(json.dumps({"notice": store.notice, "saved": store.saved,
                  "messages": sum(len(store.messages(c.id)) for c in store.list_chats())}))
"""


@pytest.mark.parametrize("start", ["no history yet", "a damaged history"])
def test_a_full_disk(faults, db, start):
    """No file can grow past 4 KiB (RLIMIT_FSIZE): SQLite's writes fail as on a full disk."""
    with faults.inject(f"disk full at start, {start}"):
        if start == "a damaged history":
            make_history(db, chats=5, per_chat=10)
            overwrite_page(db, pages_of(db, "chats_updated")[0], JUNK)
        child = subprocess.run(
            [sys.executable, "-c", _FULL_DISK_CHILD, str(db)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if child.returncode != 0:
            raise CrashDetected(f"exit {child.returncode}: {child.stderr[-2000:]}")
        result = json.loads(child.stdout)
        assert not result["saved"] and "cannot save chats" in result["notice"]
        assert result["messages"] == (50 if start == "a damaged history" else 0)


# -- the chat history: values Hearth cannot show ----------------------------------------------


@pytest.mark.parametrize(
    "stats", ["not json", "[1, 2]", "7", '{"tok_s": "fast", "tokens": 5}', '{"context_used": null}']
)
def test_stats_that_are_not_what_hearth_wrote(faults, db, stats):
    with faults.inject(f"stats_json = {stats}"):
        with ChatStore(db) as store:
            chat = store.create_chat()
            message = store.add_message(chat.id, "assistant", "an answer")
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("UPDATE messages SET stats_json = ? WHERE id = ?", (stats, message.id))
            conn.commit()
        with ChatStore(db) as store:
            [shown] = store.messages(chat.id)
            parsed = json.loads(shown.stats_json)
            assert isinstance(parsed, dict)
            assert all(
                isinstance(parsed[key], (int, float))
                for key in ("tokens", "tok_s", "ttft_s", "context_used")
                if key in parsed
            )
            assert shown.content == "an answer"


# -- the small stores ----------------------------------------------------------------------

SMALL = [
    ("arena", ArenaStore, arena_db, "The arena file"),
    ("measurements", MeasureStore, measurements_db, "The measurements file"),
]


@pytest.mark.parametrize("name, store_type, where, what", SMALL)
@pytest.mark.parametrize("damage", ["garbage", "a folder"])
def test_a_small_store_that_is_garbage_or_a_folder(
    faults, hearth_home, name, store_type, where, what, damage
):
    with faults.inject(f"{name}.sqlite3 is {damage}"):
        path = where(hearth_home.data_dir)
        if damage == "garbage":
            path.write_bytes(JUNK)
        else:
            path.mkdir()
        store = store_type(path)
        [aside] = kept(path)
        assert store.notice.startswith(f"{what} was damaged") and aside.name in store.notice
        assert aside.read_bytes() == JUNK if damage == "garbage" else aside.is_dir()
        if store_type is ArenaStore:
            store.record("Q4_K_M", "Q8_0", "A")
            assert len(store.votes()) == 1
        else:
            assert store.count() == 0
        assert store_type(path).notice == ""


def test_a_damaged_arena_page_keeps_the_other_votes(faults, hearth_home):
    with faults.inject("arena.sqlite3: one leaf page of votes overwritten"):
        path = arena_db(hearth_home.data_dir)
        store = ArenaStore(path)
        for i in range(400):
            store.record(f"model {i % 7}", "Q8_0", "A", prompt="a long prompt " * 10)
        leaves = leaf_pages_of(path, "votes")
        overwrite_page(path, leaves[1], JUNK)
        again = ArenaStore(path)
        assert "record(s) were recovered" in again.notice
        assert 300 < len(again.votes()) < 400


# -- the studio starting -------------------------------------------------------------------


def start_studio(home: Path, *args: str) -> dict:
    """Start the real studio on ``home`` and return what its window showed."""
    env = {**os.environ, "HEARTH_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.studio_start", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if child.returncode != 0 or "QThread: Destroyed" in child.stderr:
        crashed = child.returncode < 0 or child.returncode == 128 + signal.SIGABRT
        kind = CrashDetected if crashed or child.returncode else AssertionError
        raise kind(f"the studio ended with {child.returncode}: {child.stderr[-3000:]}")
    shown = json.loads(child.stdout.strip().splitlines()[-1])
    assert shown["shown"], "the window never came up"
    return shown


def test_the_studio_opens_over_three_damaged_stores(faults, hearth_home):
    data = hearth_home.data_dir
    with faults.inject("studio start: chats random, arena a folder, measurements garbage"):
        hearth_home.chats_db.write_bytes(JUNK)
        arena_db(data).mkdir()
        measurements_db(data).write_bytes(JUNK)
        shown = start_studio(Path(os.environ["HEARTH_HOME"]))
        assert shown["banner_visible"]
        for path in (hearth_home.chats_db, arena_db(data), measurements_db(data)):
            assert kept(path)[0].name in shown["banner"]
        assert not start_studio(Path(os.environ["HEARTH_HOME"]))["banner_visible"]


@pytest.mark.parametrize(
    "damage",
    [
        "a foreign -wal",
        "a newer user_version",
        "another program's chats table",
        "a damaged data page",
    ],
)
def test_the_studio_opens_over_a_damaged_history(faults, hearth_home, tmp_path, damage):
    db = hearth_home.chats_db
    with faults.inject(f"studio start: chats.sqlite3 with {damage}"):
        history = make_history(db, chats=4, per_chat=30)
        if damage == "a foreign -wal":
            db.with_name(db.name + "-wal").write_bytes(foreign_wal(tmp_path))
            expect, chats = "belonged to another database", 4
        elif damage == "a newer user_version":
            with closing(sqlite3.connect(db)) as conn:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
                conn.commit()
            expect, chats = "newer Hearth", 4
        elif damage == "another program's chats table":
            db.unlink()
            with closing(sqlite3.connect(db)) as conn:
                conn.execute("CREATE TABLE chats (x)")
                conn.execute("INSERT INTO chats VALUES (1)")
                conn.commit()
            expect, chats = "another program's data", 0
        else:
            leaves = leaf_pages_of(db, "messages")
            overwrite_page(db, leaves[len(leaves) // 2], JUNK)
            expect, chats = "4 chat(s) with", 4
        assert history
        shown = start_studio(Path(os.environ["HEARTH_HOME"]))
        assert shown["banner_visible"] and expect in shown["banner"]
        assert shown["chats"] == chats


def test_the_studio_opens_the_last_chat_whose_stats_are_not_json(faults, hearth_home):
    db = hearth_home.chats_db
    with faults.inject("studio start: the last-opened chat's stats_json is not JSON"):
        with ChatStore(db) as store:
            chat = store.create_chat("Lisbon")
            store.add_message(chat.id, "user", "Where to in May?")
            answer = store.add_message(chat.id, "assistant", "Lisbon, for the light.")
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("UPDATE messages SET stats_json = '{tokens: 5' WHERE id = ?", (answer.id,))
            conn.commit()
        Settings(last_chat=chat.id).save(hearth_home.settings_file)
        shown = start_studio(Path(os.environ["HEARTH_HOME"]))
        assert shown["open_chat"] == chat.id
        assert "Lisbon, for the light." in shown["transcript"]


def test_the_studio_opens_on_a_full_disk(faults, hearth_home):
    with faults.inject("studio start: the disk is full"):
        shutil.rmtree(hearth_home.data_dir)
        hearth_home.data_dir.mkdir()
        shown = start_studio(Path(os.environ["HEARTH_HOME"]), "--file-size-limit", "4096")
        assert shown["banner_visible"] and "cannot save chats" in shown["banner"]
