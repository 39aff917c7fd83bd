"""Opening the chat history file: pragmas, schema migrations, the search index, and setting
a damaged file aside. ``app.core.chats.ChatStore`` does everything after that.

WAL mode, ``synchronous=NORMAL``, foreign keys on: a commit survives the process being killed
(not necessarily a power cut), readers never wait for the writer, and ``busy_timeout`` lets two
Hearth processes write the same file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Callable

from app.core.errors import ChatStoreError

log = logging.getLogger("hearth.chats")

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0
_DAMAGE_CODES = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}


def open_db(path: Path, fts: bool | None = None) -> tuple[sqlite3.Connection, bool]:
    """The connection to the chat history at ``path`` (created when missing, migrated to
    ``SCHEMA_VERSION``), and whether it searches with FTS5 (``fts`` None: when SQLite has it;
    False: never). Raises ChatStoreError when the file is damaged (it is renamed
    ``*.damaged-<time>`` first, so opening again gives a fresh store), busy or from a newer
    Hearth."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                           check_same_thread=False)
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {check}")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            log.warning("Chat history %s is not in WAL mode", path)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        use_fts = fts is not False and fts5_available(conn)
        _prepare(conn, use_fts)
    except sqlite3.Error as exc:
        conn.close()
        name = getattr(exc, "sqlite_errorname", "")
        if name in _DAMAGE_CODES or str(exc).startswith("quick_check"):
            aside = _set_aside(path)
            log.error("Chat history %s is damaged (%s); kept as %s", path, exc, aside)
            raise ChatStoreError(
                f"The chat history file was damaged and could not be read. It was kept "
                f"as {aside} and a new, empty history will be started.") from exc
        raise ChatStoreError(f"The chat history {path} could not be opened "
                             f"({exc}). Close other Hearth windows and try again.") from exc
    except BaseException:
        conn.close()
        raise
    return conn, use_fts


def _schema_1(conn: sqlite3.Connection) -> None:
    conn.execute("""CREATE TABLE chats (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
        created_at REAL NOT NULL, updated_at REAL NOT NULL, model TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '', settings_json TEXT NOT NULL DEFAULT '{}')""")
    conn.execute("""CREATE TABLE messages (id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, position INTEGER NOT NULL,
        stats_json TEXT NOT NULL DEFAULT '{}', complete INTEGER NOT NULL DEFAULT 1,
        UNIQUE (chat_id, position))""")
    # Pieces of an answer being streamed, in rowid order (a new rowid is always above the
    # existing ones, so the order of a message's pieces is the order they were appended).
    conn.execute("""CREATE TABLE answer_chunks (id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        text TEXT NOT NULL)""")
    conn.execute("CREATE INDEX answer_chunks_message ON answer_chunks(message_id)")
    conn.execute("CREATE INDEX chats_updated ON chats(updated_at)")


# MIGRATIONS[n] turns a version n-1 database into version n; add one per schema change.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _schema_1}

_FTS_SCHEMA = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
)


def fts5_available(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite library was built with FTS5."""
    options = {row[0] for row in conn.execute("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options


def _prepare(conn: sqlite3.Connection, fts: bool) -> None:
    """Run the migrations this file lacks, and add the search index if it can have one."""
    def needed() -> tuple[int, bool]:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_fts = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages_fts'")
        return version, fts and not has_fts.fetchone()

    if needed() == (SCHEMA_VERSION, False):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version, add_fts = needed()  # again under the lock: another process may have done it
        if version > SCHEMA_VERSION:
            raise ChatStoreError("The chat history was written by a newer Hearth. "
                                 "Update Hearth to open it.")
        while version < SCHEMA_VERSION:
            version += 1
            MIGRATIONS[version](conn)
            log.info("Chat history schema upgraded to version %d", version)
        conn.execute(f"PRAGMA user_version = {version}")
        for statement in _FTS_SCHEMA if add_fts else ():
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

def _set_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    count = 1
    while aside.exists():
        count += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{count}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    return aside
