"""Opening the chat history file: pragmas, schema migrations, the search index, and what to do
when the file cannot be used as it is. ``app.core.chats.store.ChatStore`` does everything after that.

WAL mode, ``synchronous=NORMAL``, foreign keys on: a commit survives the process being killed
(not necessarily a power cut), readers never wait for the writer, and ``busy_timeout`` lets two
Hearth processes write the same file.

No stored file stops the studio from opening (``open_db`` raises nothing for one); each case
ends with the history Hearth could read and one sentence for the user (``Opened.notice``):

* damaged (not SQLite, truncated, a damaged page): the file is kept aside
  (``app.core.storage.db_files``) and what can still be read is copied into a fresh one
  (``app.core.chats.salvage``);
* not a file (a folder), unreadable, or another program's database (tables that are not
  Hearth's): kept aside, a fresh history started. Tables are never created over a file that
  holds data;
* a ``-wal`` log that does not belong to the file (replayed, it would replace Hearth's tables
  with another program's): checked on copies before SQLite opens the real pair, then kept aside;
* written by a newer Hearth, or in a folder Hearth cannot write (read-only, disk full): the
  file is left alone, its chats are read into a history kept in memory, and the notice says
  that changes will not be kept.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.core.chats.salvage import salvage_file
from app.core.common.errors import ChatStoreError
from app.core.storage import db_files

log = logging.getLogger("hearth.chats")

SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 10.0
# The tables and columns of schema 1; later versions only add to them.
_REQUIRED = {
    "chats": {"id", "title", "created_at", "updated_at", "model", "system_prompt", "settings_json"},
    "messages": {
        "id",
        "chat_id",
        "role",
        "content",
        "created_at",
        "position",
        "stats_json",
        "complete",
    },
    "answer_chunks": {"id", "message_id", "text"},
}


@dataclass
class Opened:
    conn: sqlite3.Connection
    fts: bool  # whether it searches with FTS5
    notice: str = ""  # for the user: what was set aside, recovered or cannot be saved
    saved: bool = True  # False: a history in memory, lost when Hearth closes


def open_db(path: Path, fts: bool | None = None) -> Opened:
    """The chat history at ``path`` (created when missing, migrated to ``SCHEMA_VERSION``),
    searching with FTS5 when ``fts`` is None and SQLite has it (False: never). Never raises
    for what is on disk: see the module's docstring."""
    path = Path(path)
    notices: list[str] = []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if _clear_the_way(path, notices):  # damaged with its log: never opened in place
            return _salvage(path, fts, notices, "its integrity check failed")
        conn = _connect(path)
    except (OSError, sqlite3.Error) as exc:
        readable = path.is_file() if path.parent.is_dir() else False
        return _in_memory(path, fts, notices, _reason(exc), readable)
    try:
        kind = _inspect(conn)
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        conn.close()
        if db_files.is_damage(exc):
            return _salvage(path, fts, notices, str(exc))
        return _in_memory(path, fts, notices, _reason(exc), True)
    if kind == "damaged":
        conn.close()
        return _salvage(path, fts, notices, "its integrity check failed")
    if kind == "newer":
        conn.close()
        return _in_memory(path, fts, notices, "", True, newer=True)
    if kind == "foreign":
        conn.close()
        try:
            aside = db_files.set_aside(path, "not-hearth")
            conn = _connect(path)
        except (OSError, sqlite3.Error) as exc:
            return _in_memory(path, fts, notices, _reason(exc), False)
        log.error("Chat history %s held another program's tables; kept as %s", path, aside)
        notices.append(
            f"The chat history file held another program's data, not Hearth's "
            f"chats; it was kept as {aside.name} and a new history was started."
        )
    try:
        use_fts = _configure(conn, fts, wal=True)
    except (sqlite3.Error, UnicodeDecodeError, ChatStoreError) as exc:
        conn.close()
        if db_files.is_damage(exc):
            return _salvage(path, fts, notices, str(exc))
        return _in_memory(path, fts, notices, _reason(exc), True)
    return Opened(conn, use_fts, " ".join(notices))


def _connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.text_factory = db_files.lenient_text
    return conn


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def _configure(conn: sqlite3.Connection, fts: bool | None, wal: bool) -> bool:
    """Pragmas and migrations; returns whether the history searches with FTS5."""
    if wal and conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
        log.warning("Chat history is not in WAL mode")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    use_fts = fts is not False and fts5_available(conn)
    _prepare(conn, use_fts)
    return use_fts


def _clear_the_way(path: Path, notices: list[str]) -> bool:
    """Set aside what SQLite must not open at ``path``, adding what to tell the user to
    ``notices``; returns True when the file with its log is damaged (salvage it without
    opening it: closing it would checkpoint the log into it). Raises OSError when something
    must go aside and cannot."""
    if not os.path.lexists(path):
        return False
    if not path.is_file():
        aside = db_files.set_aside(path)
        log.error("Chat history %s is not a file; kept as %s", path, aside)
        notices.append(
            f"The chat history {path.name} was not a file; it was kept as "
            f"{aside.name} and a new history was started."
        )
        return False
    try:
        with open(path, "rb") as file:
            file.read(100)
    except OSError as exc:
        aside = db_files.set_aside(path, "unreadable")
        log.error("Chat history %s cannot be read (%s); kept as %s", path, exc, aside)
        notices.append(
            f"The chat history could not be read ({exc.strerror or exc}); it was "
            f"kept as {aside.name} and a new history was started."
        )
        return False
    wal = db_files.side_file(path, "-wal")
    if not wal.is_file() or wal.stat().st_size == 0:
        return False
    verdict = _check_log(path)
    if verdict == "foreign":
        kept = db_files.move_side_aside(path, "-wal", "foreign")
        if db_files.side_file(path, "-shm").exists():
            db_files.move_side_aside(path, "-shm", "foreign")
        log.error("Chat history %s had a log from another database; kept as %s", path, kept)
        notices.append(
            f"A file next to the chat history ({wal.name}) belonged to another "
            f"database; it was kept as {kept.name} and your chats were left as "
            f"they were."
        )
    return verdict == "damaged"


def _check_log(path: Path) -> str:
    """ "ok", "foreign" or "damaged": what the log beside ``path`` makes of it, judged on
    copies, so that the real pair is opened (and, on closing, checkpointed) only when the log
    belongs to it. Ok: with the log the copy is Hearth's history. Damaged: without the log the
    copy is damaged too (salvage reads it both ways). Foreign: anything else, such as another
    program's tables with the log and Hearth's without it. A copy taken while another Hearth
    writes can be torn, so a damaged reading is tried three times before it counts."""
    try:
        for _attempt in range(3):
            with db_files.snapshot(path, with_wal=True) as copy:
                with_log = _kind_of(copy)
            if with_log != "damaged":
                break
        if with_log in ("ours", "newer"):
            return "ok"
        with db_files.snapshot(path, with_wal=False) as copy:
            alone = _kind_of(copy)
    except OSError as exc:
        log.warning("Chat history log %s could not be checked: %s", path, exc)
        return "ok"
    if alone == "damaged":
        return "damaged"
    return "ok" if with_log == alone == "new" else "foreign"


def _kind_of(path: Path) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.text_factory = db_files.lenient_text
    try:
        return _inspect(conn)
    except (sqlite3.Error, UnicodeDecodeError):
        return "damaged"
    finally:
        conn.close()


def _inspect(conn: sqlite3.Connection) -> str:
    """What the open file holds: "new" (nothing), "ours", "newer" (a newer Hearth's),
    "foreign" (another program's tables) or "damaged"."""
    if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
        return "damaged"
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        return "newer"
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if version == 0:
        return "new" if not names else "foreign"
    for table, columns in _REQUIRED.items():
        found = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if not columns <= found:
            return "foreign"
    return "ours"


def _fresh_in_memory(fts: bool | None) -> tuple[sqlite3.Connection, bool]:
    conn = _connect(":memory:")
    return conn, _configure(conn, fts, wal=False)


def _in_memory(
    path: Path,
    fts: bool | None,
    notices: list[str],
    reason: str,
    readable: bool,
    newer: bool = False,
) -> Opened:
    """A history in memory holding what can be read of ``path`` (left as it is)."""
    conn, use_fts = _fresh_in_memory(fts)
    chats = salvage_file(path, conn)[0] if readable else 0
    shown = f" Its {chats} chat(s) are shown, but new" if chats else ""
    if newer:
        log.error("Chat history %s is from a newer Hearth; opened in memory", path)
        notices.append(
            f"The chat history was written by a newer Hearth and is left as it "
            f"is.{shown or ' New'} chats and changes in this session will not be "
            f"kept; update Hearth to keep working with it."
        )
    else:
        log.error("Chat history %s cannot be used (%s); opened in memory", path, reason)
        notices.append(
            f"Hearth cannot save chats in {path.parent} ({reason}).{shown or ' New'} "
            f"chats and changes in this session will be lost when Hearth closes."
        )
    return Opened(conn, use_fts, " ".join(notices), saved=False)


def _salvage(path: Path, fts: bool | None, notices: list[str], reason: str) -> Opened:
    """Keep the damaged file aside and copy what can be read of it into a fresh history."""
    try:
        aside = db_files.set_aside(path)
    except OSError as exc:
        return _in_memory(path, fts, notices, _reason(exc), True)
    log.error("Chat history %s is damaged (%s); kept as %s", path, reason, aside)
    try:
        conn = _connect(path)
        use_fts = _configure(conn, fts, wal=True)
    except (sqlite3.Error, ChatStoreError) as exc:
        return _in_memory(aside, fts, notices, _reason(exc), True)
    try:
        chats, messages = salvage_file(aside, conn)
    except sqlite3.Error as exc:  # the fresh file cannot be written (disk full)
        conn.close()
        return _in_memory(aside, fts, notices, _reason(exc), True)
    log.info("Recovered %d chat(s), %d message(s) from %s", chats, messages, aside)
    if chats:
        notices.append(
            f"The chat history was damaged: {chats} chat(s) with {messages} "
            f"message(s) were recovered, and the damaged file was kept as "
            f"{aside.name}."
        )
    else:
        notices.append(
            f"The chat history was damaged and nothing in it could be read; it was "
            f"kept as {aside.name} and a new, empty history was started."
        )
    return Opened(conn, use_fts, " ".join(notices))


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


def _schema_2(conn: sqlite3.Connection) -> None:
    """A message's images (data URLs, a JSON list) beside its text, not in it: search, titles,
    Copy and Edit keep working on the text, and a chat of schema 1 reads with no images."""
    conn.execute("ALTER TABLE messages ADD COLUMN images_json TEXT NOT NULL DEFAULT '[]'")


# MIGRATIONS[n] turns a version n-1 database into version n; add one per schema change.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _schema_1, 2: _schema_2}

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
            raise ChatStoreError(
                "The chat history was written by a newer Hearth. Update Hearth to open it."
            )
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
