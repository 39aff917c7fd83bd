"""Chat history, kept in one SQLite file (``Paths.chats_db``), opened by ``app.core.chats.db``
(WAL, migrations, the search index, a damaged file set aside).

Threads: one connection shared by all threads (``check_same_thread=False``) behind a lock, and
``close()`` can close it from any thread (per-thread connections could not be). The studio
never calls this store on its GUI thread: ``ChatHistory`` (``app.core.chats.history``) keeps
the chats in memory and calls it from its writer thread and background reads, since a call
waits up to the busy timeout (10 s; the writer sets 0.2 s and retries) while another program
holds the write lock.

Streaming: ``append_to_answer`` inserts a row into ``answer_chunks`` and commits;
``finish_answer`` folds the rows into the message. Measured, 2,000 tokens, a commit each:
~0.06-0.08 ms a token (~0.15 s in all). ``content = content || ?`` rewrites the message and,
through the search index's trigger, re-indexes it each time: ~1.1 ms a token (~2.3 s), growing
with the square of the length. Rows of an answer cut off by a crash are folded on next open.

Search: FTS5 word prefixes on message contents where SQLite has FTS5, else ``LIKE``; titles
are matched as substrings either way.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.chats.db import open_db
from app.core.common.errors import ChatStoreError
from app.core.common.json_file import Damaged, decode

log = logging.getLogger("hearth.chats")

DEFAULT_TITLE = "New chat"
ROLES = ("system", "user", "assistant")
TITLE_LENGTH = 40
# A message's images: each costs the projector's tokens of the context, and Chat takes no more
# (``app.ui.chat.composer``); more in the file is damage, left out when read.
MAX_IMAGES = 8


@dataclass(frozen=True)
class Chat:
    id: int
    title: str
    created_at: float  # seconds since the epoch
    updated_at: float
    model: str
    system_prompt: str
    settings_json: str  # a JSON object, "{}" by default


@dataclass(frozen=True)
class Message:
    id: int
    chat_id: int
    role: str  # one of ROLES
    content: str
    created_at: float
    position: int  # 0, 1, 2... within its chat
    stats_json: str  # a JSON object; finish_answer puts the stop reason in it
    complete: bool  # False while streaming, or when the answer was interrupted
    images: tuple[str, ...] = ()  # data URLs (data:image/png;base64,...), shown after the text


_NUMERIC_STATS = ("tokens", "tok_s", "ttft_s", "prompt_tokens", "context_used")
_CHAT_COLUMNS = "id, title, created_at, updated_at, model, system_prompt, settings_json"
_MESSAGE_COLUMNS = (
    "id, chat_id, role, content, created_at, position, stats_json, complete, images_json"
)


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text(value: object) -> str:
    """Text as stored; a file written by another program may hold bytes or numbers."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _stats(stats_json: object) -> str:
    """A message's stats as a JSON object whose numbers are numbers: the studio formats them
    (``f"{tok_s:.1f}"``), and a value edited or damaged on disk made opening the chat raise."""
    try:
        stats = json.loads(_text(stats_json) or "{}")
    except ValueError:
        return "{}"
    if not isinstance(stats, dict):
        return "{}"
    kept = {
        key: value
        for key, value in stats.items()
        if key not in _NUMERIC_STATS
        or (isinstance(value, (int, float)) and not isinstance(value, bool))
    }
    return _text(stats_json) if kept == stats else json.dumps(kept)


def _images(images_json: object) -> tuple[str, ...]:
    """A message's images as stored: the data URLs of a JSON list; anything else (edited or
    damaged on disk) is left out, so that the chat still opens."""
    try:
        images = decode(_text(images_json) or "[]")
    except Damaged:  # not JSON, or nested past any list of images
        return ()
    if not isinstance(images, list):
        return ()
    kept = (i for i in images if isinstance(i, str) and i.startswith("data:image/"))
    return tuple(itertools.islice(kept, MAX_IMAGES))  # thousands would each be drawn


def one_line_title(text: str) -> str:
    """The first non-empty line of ``text``, whitespace collapsed, cut to TITLE_LENGTH."""
    line = next((" ".join(part.split()) for part in text.splitlines() if part.strip()), "")
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[:TITLE_LENGTH]
    if " " in cut[TITLE_LENGTH // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" .,;:-") + "…"


class ChatStore:
    """All chats and their messages. Safe to use from several threads and processes."""

    def __init__(self, path: Path, *, fts: bool | None = None):
        """Open or create the store at ``path``.

        ``fts``: None uses FTS5 search when SQLite has it; False forces the LIKE search.
        Never raises for what is on disk (``app.core.chats.db``): a damaged, foreign or
        unwritable file gives the history that could be read, with ``notice`` saying what was
        set aside or recovered, and ``saved`` False when changes cannot be kept.
        """
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None
        opened = open_db(self.path, fts)
        self._conn, self.fts, self.saved = opened.conn, opened.fts, opened.saved
        self.notice = opened.notice
        try:
            self._fold_interrupted()
        except ChatStoreError as exc:  # a full disk: the pieces are still shown, folded later
            log.error("Interrupted answers could not be completed: %s", exc)
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------------------

    def _fold_interrupted(self) -> None:
        """Fold the pieces of answers cut off by a crash into their messages."""
        with self._read() as conn:
            if not conn.execute("SELECT EXISTS (SELECT 1 FROM answer_chunks)").fetchone()[0]:
                return
        with self._write() as conn:
            ids = [row[0] for row in conn.execute("SELECT DISTINCT message_id FROM answer_chunks")]
            for message_id in ids:
                self._fold(conn, message_id)
        log.info("Recovered %d interrupted answer(s)", len(ids))

    def close(self) -> None:
        """Close the store (idempotent). Later calls raise ChatStoreError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ChatStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise ChatStoreError("The chat history is closed.")
            try:
                conn.execute(begin)
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except (sqlite3.Error, UnicodeDecodeError) as exc:  # see db_files.READ_ERRORS
                log.error("Chat history error: %s", exc)
                raise ChatStoreError(
                    f"The chat history could not be read or saved ({exc}). "
                    f"Check free disk space and close other Hearth "
                    f"windows."
                ) from exc

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so busy_timeout applies to it (a deferred
        # read that turns into a write fails at once when another process is writing).
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction("BEGIN")  # one snapshot for several SELECTs

    @staticmethod
    def _chat(conn: sqlite3.Connection, chat_id: int) -> Chat:
        row = conn.execute(f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise ChatStoreError("That chat no longer exists.")
        return Chat(*row)

    @staticmethod
    def _messages(conn: sqlite3.Connection, where: str, value: int) -> list[Message]:
        """Messages by ``chat_id`` or ``id``, with the pieces of unfinished answers added."""
        rows = conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE {where} = ? ORDER BY position", (value,)
        ).fetchall()
        pieces: dict[int, list[str]] = {}
        for message_id, text in conn.execute(
            "SELECT c.message_id, c.text FROM answer_chunks c JOIN messages m "
            f"ON m.id = c.message_id WHERE m.{where} = ? ORDER BY c.id",
            (value,),
        ):
            pieces.setdefault(message_id, []).append(text)
        return [
            Message(
                row[0],
                row[1],
                row[2],
                _text(row[3]) + "".join(pieces.get(row[0], ())),
                row[4],
                row[5],
                _stats(row[6]),
                bool(row[7]),
                _images(row[8]),
            )
            for row in rows
        ]

    def _message(self, conn: sqlite3.Connection, message_id: int) -> Message:
        found = self._messages(conn, "id", message_id)
        if not found:
            raise ChatStoreError("That message no longer exists.")
        return found[0]

    @staticmethod
    def _fold(conn: sqlite3.Connection, message_id: int) -> None:
        pieces = conn.execute(
            "SELECT text FROM answer_chunks WHERE message_id = ? ORDER BY id", (message_id,)
        ).fetchall()
        if pieces:
            conn.execute(
                "UPDATE messages SET content = content || ? WHERE id = ?",
                ("".join(piece[0] for piece in pieces), message_id),
            )
            conn.execute("DELETE FROM answer_chunks WHERE message_id = ?", (message_id,))

    @staticmethod
    def _touch(conn: sqlite3.Connection, chat_id: int) -> None:
        conn.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (time.time(), chat_id))

    # -- chats -------------------------------------------------------------------------

    def create_chat(
        self,
        title: str = DEFAULT_TITLE,
        model: str = "",
        system_prompt: str = "",
        chat_id: int | None = None,
    ) -> Chat:
        """A new chat; ``chat_id`` when the caller chose it (``ChatHistory``, ahead of the
        disk), else the next free one."""
        now = time.time()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO chats (id, title, created_at, updated_at, model, system_prompt) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, " ".join(title.split()) or DEFAULT_TITLE, now, now, model, system_prompt),
            )
            assert cursor.lastrowid is not None  # set by every INSERT
            return self._chat(conn, cursor.lastrowid)

    def next_ids(self) -> tuple[int, int]:
        """The first chat id and message id above every one stored, for ``ChatHistory`` to
        hand out before the disk has the rows."""
        with self._read() as conn:
            chat = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chats").fetchone()[0]
            message = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM messages").fetchone()[0]
        return int(chat), int(message)

    def set_busy_timeout(self, seconds: float) -> None:
        """How long one statement waits for another program's lock before it fails.
        ``ChatHistory``'s writer retries on its own, so it waits briefly and can stop at quit."""
        with self._lock:
            if self._conn is not None:
                self._conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def get_chat(self, chat_id: int) -> Chat:
        with self._read() as conn:
            return self._chat(conn, chat_id)

    def list_chats(self, search: str = "") -> list[Chat]:
        """Chats, most recently active first; ``search`` words must all appear in the title,
        or all in one message (as word prefixes with FTS5, as substrings without)."""
        terms = search.split()
        sql, params = f"SELECT {_CHAT_COLUMNS} FROM chats", []
        if terms:
            title_match = " AND ".join("title LIKE ? ESCAPE '\\'" for _ in terms)
            params = [_like_pattern(term) for term in terms]
            if self.fts and all(re.search(r"\w", term) for term in terms):
                query = " AND ".join('"' + term.replace('"', '""') + '"*' for term in terms)
                content_match = (
                    "id IN (SELECT m.chat_id FROM messages_fts f JOIN messages m "
                    "ON m.id = f.rowid WHERE messages_fts MATCH ?)"
                )
                params.append(query)
            else:
                content_match = (
                    "id IN (SELECT chat_id FROM messages WHERE "
                    + " AND ".join("content LIKE ? ESCAPE '\\'" for _ in terms)
                    + ")"
                )
                params += [_like_pattern(term) for term in terms]
            sql += f" WHERE ({title_match}) OR {content_match}"
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY updated_at DESC, id DESC", params).fetchall()
        return [Chat(*row) for row in rows]

    def rename_chat(self, chat_id: int, title: str) -> Chat:
        """Set the title (one line; an empty title becomes the default)."""
        with self._write() as conn:
            self._chat(conn, chat_id)
            conn.execute(
                "UPDATE chats SET title = ? WHERE id = ?",
                (" ".join(title.split()) or DEFAULT_TITLE, chat_id),
            )
            return self._chat(conn, chat_id)

    def update_chat(
        self,
        chat_id: int,
        *,
        model: str | None = None,
        system_prompt: str | None = None,
        settings_json: str | None = None,
    ) -> Chat:
        """Change the fields given (None leaves a field as it is)."""
        if settings_json is not None and not isinstance(json.loads(settings_json), dict):
            raise ValueError("settings_json must hold a JSON object")
        with self._write() as conn:
            self._chat(conn, chat_id)
            for column, value in (
                ("model", model),
                ("system_prompt", system_prompt),
                ("settings_json", settings_json),
            ):
                if value is not None:
                    conn.execute(f"UPDATE chats SET {column} = ? WHERE id = ?", (value, chat_id))
            return self._chat(conn, chat_id)

    def delete_chat(self, chat_id: int) -> None:
        """Delete a chat with all its messages."""
        with self._write() as conn:
            conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    def auto_title(self, chat_id: int, replacing: str | None = None) -> Chat:
        """Title the chat after its first user message, if it still has the default title, or
        the title made from ``replacing`` (a message's text before the user edited it)."""
        with self._write() as conn:
            chat = self._chat(conn, chat_id)
            row = conn.execute(
                "SELECT content FROM messages WHERE chat_id = ? AND role = 'user' "
                "ORDER BY position LIMIT 1",
                (chat_id,),
            ).fetchone()
            title = one_line_title(row[0]) if row else ""
            made_from_old = replacing is not None and chat.title == one_line_title(replacing)
            if not title or (chat.title != DEFAULT_TITLE and not made_from_old):
                return chat
            conn.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))
            return self._chat(conn, chat_id)

    # -- messages ----------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[Message]:
        """The chat's messages in order (an empty list for a chat that does not exist)."""
        with self._read() as conn:
            return self._messages(conn, "chat_id", chat_id)

    def get_message(self, message_id: int) -> Message:
        with self._read() as conn:
            return self._message(conn, message_id)

    def add_message(
        self,
        chat_id: int,
        role: str,
        content: str,
        complete: bool = True,
        message_id: int | None = None,
        images: Sequence[str] = (),
    ) -> Message:
        """Add a message at the end of the chat (``message_id`` as in ``create_chat``), with
        ``images`` (data URLs) after its text."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        with self._write() as conn:
            added = self._insert_message(conn, chat_id, role, content, complete, message_id)
            if images:
                conn.execute(
                    "UPDATE messages SET images_json = ? WHERE id = ?",
                    (json.dumps(list(images)), added),
                )
            return self._message(conn, added)

    def _insert_message(
        self,
        conn: sqlite3.Connection,
        chat_id: int,
        role: str,
        content: str,
        complete: bool,
        message_id: int | None = None,
    ) -> int:
        self._chat(conn, chat_id)
        position = conn.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE chat_id = ?", (chat_id,)
        ).fetchone()[0]
        now = time.time()
        cursor = conn.execute(
            "INSERT INTO messages (id, chat_id, role, content, created_at, position, complete) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (message_id, chat_id, role, content, now, position, int(complete)),
        )
        conn.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now, chat_id))
        assert cursor.lastrowid is not None  # set by every INSERT
        return cursor.lastrowid

    def edit_message(self, message_id: int, content: str) -> Message:
        """Replace a message's text (an answer being streamed loses its pieces)."""
        with self._write() as conn:
            message = self._message(conn, message_id)
            conn.execute("DELETE FROM answer_chunks WHERE message_id = ?", (message_id,))
            conn.execute("UPDATE messages SET content = ? WHERE id = ?", (content, message_id))
            self._touch(conn, message.chat_id)
            return self._message(conn, message_id)

    def truncate_after(self, chat_id: int, position: int) -> int:
        """Delete the chat's messages after ``position``; returns how many were deleted."""
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM messages WHERE chat_id = ? AND position > ?", (chat_id, position)
            )
            if cursor.rowcount:
                self._touch(conn, chat_id)
            return int(cursor.rowcount)

    # -- streaming an answer -----------------------------------------------------------

    def begin_answer(self, chat_id: int, message_id: int | None = None) -> int:
        """Start an empty, incomplete assistant message; returns its id."""
        with self._write() as conn:
            return self._insert_message(conn, chat_id, "assistant", "", False, message_id)

    def append_to_answer(self, message_id: int, text: str) -> None:
        """Add text to an answer being streamed, committed at once (~0.1 ms).

        Raises ChatStoreError when the answer was deleted (its chat deleted, or truncated
        for a regenerate) or already finished, so the generating worker can stop.
        """
        if not text:
            return
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO answer_chunks (message_id, text) SELECT ?, ? WHERE EXISTS "
                "(SELECT 1 FROM messages WHERE id = ? AND complete = 0)",
                (message_id, text, message_id),
            )
            if cursor.rowcount != 1:
                raise ChatStoreError("The answer being written was deleted or is finished.")

    def finish_answer(
        self, message_id: int, stats: dict[str, Any] | None = None, stop_reason: str = ""
    ) -> Message:
        """Mark the answer complete; ``stats`` (plus ``stop_reason``) go to stats_json."""
        record = dict(stats or {})
        if stop_reason:
            record["stop_reason"] = stop_reason
        with self._write() as conn:
            message = self._message(conn, message_id)
            self._fold(conn, message_id)
            conn.execute(
                "UPDATE messages SET complete = 1, stats_json = ? WHERE id = ?",
                (json.dumps(record), message_id),
            )
            self._touch(conn, message.chat_id)
            return self._message(conn, message_id)
