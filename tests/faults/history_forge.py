"""Real chat histories and real damage to them, for the store fault tests and the fuzzer.

``make_history`` writes a history through ``ChatStore`` (the studio's own code); the damage
functions change bytes of the file as a disk, a crash of another program or a hand edit would;
``readable_messages`` is the oracle: the messages a plain SQLite lookup by id still finds in a
copy of the damaged file, each of which must be in the history the studio opens.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from app.core.chats.store import ROLES, ChatStore

PAGE = 4096


def make_history(path: Path, chats: int = 20, per_chat: int = 30) -> dict[int, str]:
    """A history of ``chats`` x ``per_chat`` messages; returns message id -> content."""
    contents = {}
    with ChatStore(path) as store:
        for c in range(chats):
            chat = store.create_chat(f"Trip plan {c}")
            for m in range(per_chat):
                text = f"chat {c} message {m}: " + "the lighthouse keeper's notes " * 6
                message = store.add_message(chat.id, "user" if m % 2 == 0 else "assistant", text)
                contents[message.id] = text
    return contents


def pages_of(path: Path, name: str) -> list[int]:
    """The page numbers of one table or index (``dbstat``), in b-tree order."""
    with closing(sqlite3.connect(path)) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? ORDER BY path", (name,)
            )
        ]


def leaf_pages_of(path: Path, name: str) -> list[int]:
    with closing(sqlite3.connect(path)) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY path",
                (name,),
            )
        ]


def overwrite_page(path: Path, page: int, data: bytes) -> None:
    """Write ``data`` (up to a page) at the start of page ``page`` (1-based)."""
    with open(path, "r+b") as file:
        file.seek((page - 1) * PAGE)
        file.write(data[:PAGE])


def readable_messages(path: Path) -> dict[int, str]:
    """Message id -> content of every message a lookup by id finds, whole and well-formed
    (text content, a known role, numbers where numbers belong), in a copy of ``path``."""
    found: dict[int, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        with closing(sqlite3.connect(copy)) as conn:
            try:
                conn.execute("PRAGMA writable_schema = ON")
                top = conn.execute("SELECT max(rowid) FROM messages").fetchone()[0] or 0
            except sqlite3.DatabaseError:
                top = 10_000
            for message_id in range(1, top + 1):
                try:
                    row = conn.execute(
                        "SELECT content, role, chat_id, position FROM messages WHERE rowid = ?",
                        (message_id,),
                    ).fetchone()
                except sqlite3.DatabaseError:
                    continue
                if (
                    row is not None
                    and isinstance(row[0], str)
                    and row[1] in ROLES
                    and isinstance(row[2], int)
                    and isinstance(row[3], int)
                ):
                    found[message_id] = row[0]
    return found


def stored_messages(store: ChatStore) -> dict[int, str]:
    """Message id -> content of every message the store shows."""
    return {m.id: m.content for chat in store.list_chats() for m in store.messages(chat.id)}
