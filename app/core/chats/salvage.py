"""Reading what can still be read from a damaged chat history, into a fresh one.

The history used to be set aside whole for one bad page of an index (all messages still
readable) or of a table (most still readable). Here the three tables are read row by row
(``app.core.storage.db_salvage``: a damaged page costs only the rows on it, indexes are not used) and
written into a fresh history, whose search index is rebuilt as the messages go in. Values of
the wrong type are mended or the row skipped; a message whose chat row was lost gets a
"Recovered chat" so that it is not lost as well.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.storage import db_files
from app.core.storage.db_salvage import read_rows

log = logging.getLogger("hearth.chats")

ROLES = ("system", "user", "assistant")
RECOVERED_TITLE = "Recovered chat"
COLUMNS = {
    "chats": "id, title, created_at, updated_at, model, system_prompt, settings_json",
    "messages": "id, chat_id, role, content, created_at, position, stats_json, complete",
    "answer_chunks": "id, message_id, text",
}
IMAGES_COLUMN = "images_json"  # schema 2: read where the damaged file has it


@dataclass
class Salvaged:
    """Rows read from a damaged history, already mended to the types Hearth stores."""

    chats: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    chunks: list[tuple[Any, ...]] = field(default_factory=list)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number == number else default  # NaN


def _object_json(value: object) -> str:
    try:
        parsed = json.loads(_text(value))
    except ValueError:
        return "{}"
    return json.dumps(parsed) if isinstance(parsed, dict) else "{}"


def read_all(conn: sqlite3.Connection) -> Salvaged:
    """What can be read of a history's three tables (a table that cannot be found at all,
    its schema page lost, gives nothing). ``conn`` must be a copy or read-only: it is set to
    ``writable_schema``, under which SQLite reads a truncated file (else it refuses the whole
    file when the header counts more pages than there are)."""
    found = Salvaged()
    conn.execute("PRAGMA writable_schema = ON")
    now = time.time()
    for table, target in (
        ("chats", found.chats),
        ("messages", found.messages),
        ("answer_chunks", found.chunks),
    ):
        columns = COLUMNS[table]
        if table == "messages" and _has_images(conn):
            columns += f", {IMAGES_COLUMN}"
        try:
            for row in read_rows(conn, table, columns):
                mended = _mend(table, row, now)
                if mended is not None:
                    target.append(mended)
        except db_files.READ_ERRORS as exc:
            log.warning("Chat history table %s could not be read: %s", table, exc)
    return found


def _has_images(conn: sqlite3.Connection) -> bool:
    try:
        return any(row[1] == IMAGES_COLUMN for row in conn.execute("PRAGMA table_info(messages)"))
    except db_files.READ_ERRORS:
        return False


def _images_json(value: object) -> str:
    try:
        parsed = json.loads(_text(value) or "[]")
    except ValueError:
        return "[]"
    return json.dumps([i for i in parsed if isinstance(i, str)] if isinstance(parsed, list) else [])


def _mend(table: str, row: tuple[Any, ...], now: float) -> tuple[Any, ...] | None:
    """``row`` with its values made the types Hearth stores, or None when it cannot be."""
    if table == "chats":
        created = _number(row[2], now)
        return (
            row[0],
            " ".join(_text(row[1]).split()) or RECOVERED_TITLE,
            created,
            _number(row[3], created),
            _text(row[4]),
            _text(row[5]),
            _object_json(row[6]),
        )
    if not isinstance(row[1], int):  # the chat or message it belongs to
        return None
    if table == "messages":
        if row[2] not in ROLES or not isinstance(row[5], int):
            return None
        return (
            row[0],
            row[1],
            row[2],
            _text(row[3]),
            _number(row[4], now),
            row[5],
            _object_json(row[6]),
            0 if row[7] == 0 else 1,
            _images_json(row[8] if len(row) > 8 else "[]"),
        )
    return (row[0], row[1], _text(row[2]))


def write_all(conn: sqlite3.Connection, found: Salvaged) -> tuple[int, int]:
    """Insert the rows into an empty history (ids kept); returns (chats, messages) in it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR IGNORE INTO chats (id, title, created_at, updated_at, model, "
            "system_prompt, settings_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
            found.chats,
        )
        chat_ids = {row[0] for row in conn.execute("SELECT id FROM chats")}
        for message in found.messages:
            if message[1] not in chat_ids:
                conn.execute(
                    "INSERT INTO chats (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                    (message[1], RECOVERED_TITLE, message[4], message[4]),
                )
                chat_ids.add(message[1])
        insert = (
            "INSERT OR IGNORE INTO messages (id, chat_id, role, content, created_at, "
            "position, stats_json, complete, images_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        conn.executemany(insert, found.messages)
        # A damaged row can read with another message's position: it goes at its chat's end.
        kept = {row[0] for row in conn.execute("SELECT id FROM messages")}
        for message in found.messages:
            if message[0] not in kept:
                end = conn.execute(
                    "SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE chat_id = ?",
                    (message[1],),
                ).fetchone()[0]
                conn.execute(insert, (*message[:5], end, *message[6:]))
        conn.executemany(
            "INSERT OR IGNORE INTO answer_chunks (id, message_id, text) "
            "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?)",
            [(*chunk, chunk[1]) for chunk in found.chunks],
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    counts = conn.execute("SELECT (SELECT COUNT(*) FROM chats), (SELECT COUNT(*) FROM messages)")
    chats, messages = counts.fetchone()
    return chats, messages


def _is_clean(conn: sqlite3.Connection) -> bool:
    try:
        return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
    except db_files.READ_ERRORS:
        return False


def salvage_file(source: Path, target: sqlite3.Connection) -> tuple[int, int]:
    """Copy what can be read of the history at ``source`` (never changed) into the empty
    history ``target``; returns (chats, messages) recovered.

    With a write-ahead log beside it, the file is read with and without the log, and the
    reading kept is one that passes SQLite's check and holds messages, else the one with more
    messages: a log from another database (another Hearth's history, say) damages the file it
    is replayed into, or replaces its tables, while the file alone is whole or holds more."""
    readings: list[tuple[bool, Salvaged]] = []
    for with_wal in (True, False) if db_files.side_file(source, "-wal").is_file() else (True,):
        try:
            with db_files.snapshot(source, with_wal) as copy:
                conn = sqlite3.connect(copy, isolation_level=None)
                conn.text_factory = db_files.lenient_text
                try:
                    readings.append((_is_clean(conn), read_all(conn)))
                finally:
                    conn.close()
        except (OSError, sqlite3.Error, UnicodeDecodeError) as exc:
            log.warning("Chat history %s could not be read for salvage: %s", source, exc)
    if not readings:
        try:
            with db_files.read_only(source) as conn:
                readings.append((False, read_all(conn)))
        except (OSError, sqlite3.Error, UnicodeDecodeError) as exc:
            log.warning("Chat history %s could not be read at all: %s", source, exc)
    best = max(
        readings,
        key=lambda reading: (
            reading[0] and bool(reading[1].messages),
            len(reading[1].messages),
            len(reading[1].chats),
        ),
        default=(False, Salvaged()),
    )[1]
    return write_all(target, best)
