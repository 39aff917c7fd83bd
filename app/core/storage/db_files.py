"""Hearth's SQLite files on disk (the chat history, arena votes, measurements): setting a
damaged or foreign file aside, and looking at one without changing it.

A file Hearth cannot use is renamed ``NAME.<label>-<timestamp>`` together with its ``-wal`` and
``-shm`` files (the log stays beside its database, so SQLite still reads the pair as one), and
never deleted: the user keeps whatever was in it. The next start finds no file and begins a new
one, so the problem is reported once, not at every start.

``snapshot`` copies a database and its write-ahead log to a temporary folder before SQLite
opens them: the last connection to close checkpoints the log into the database file, so
opening the real pair to look at it could already overwrite the history with a foreign log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SIDE_FILES = ("-wal", "-shm")


def lenient_text(data: bytes) -> str:
    """SQLite text as str, damaged UTF-8 replaced: a connection's ``text_factory``. With the
    default, one changed byte in a message made every read of its chat raise."""
    return data.decode("utf-8", "replace")


def side_file(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


# What reading a damaged file can raise: SQLite's errors, and UnicodeDecodeError where Python
# decodes SQLite's message about a schema whose names are no longer UTF-8.
READ_ERRORS = (sqlite3.DatabaseError, UnicodeDecodeError)


def is_damage(exc: BaseException) -> bool:
    """Whether a SQLite error says the file's content is damaged (not busy, not unwritable)."""
    if isinstance(exc, UnicodeDecodeError):
        return True
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"


def set_aside(path: Path, label: str = "damaged") -> Path:
    """Rename ``path`` (a file, or anything else found there: a folder, a link) and its side
    files to ``NAME.<label>-<timestamp>``; return the new name. Raises OSError when the folder
    is not writable."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{label}-{stamp}")
    count = 1
    while os.path.lexists(aside):
        count += 1
        aside = path.with_name(f"{path.name}.{label}-{stamp}-{count}")
    os.replace(path, aside)
    for suffix in SIDE_FILES:
        side = side_file(path, suffix)
        if os.path.lexists(side):
            os.replace(side, side_file(aside, suffix))
    return aside


def move_side_aside(path: Path, suffix: str, label: str) -> Path:
    """Rename one side file of ``path`` (``-wal``) aside, keeping the database where it is."""
    side = side_file(path, suffix)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{label}-{stamp}{suffix}")
    count = 1
    while os.path.lexists(aside):
        count += 1
        aside = path.with_name(f"{path.name}.{label}-{stamp}-{count}{suffix}")
    os.replace(side, aside)
    return aside


@contextlib.contextmanager
def snapshot(path: Path, with_wal: bool = True) -> Iterator[Path]:
    """A copy of ``path`` (and its ``-wal`` when ``with_wal``) in a temporary folder, removed
    afterwards. Raises OSError when the file cannot be read or the copy cannot be written."""
    with tempfile.TemporaryDirectory(prefix="hearth-db-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        wal = side_file(path, "-wal")
        if with_wal and wal.is_file():
            shutil.copyfile(wal, side_file(copy, "-wal"))
        yield copy


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that reads ``path`` (with its log) and cannot change it: a snapshot when
    one can be made, else the file opened immutable (its log unread: the disk may be full).
    Raises sqlite3.Error or OSError when neither can be opened."""
    with contextlib.ExitStack() as stack:
        try:
            target, uri = str(stack.enter_context(snapshot(path))), False
        except OSError:
            if not path.is_file():
                raise
            target, uri = Path(path).absolute().as_uri() + "?immutable=1", True
        conn = sqlite3.connect(target, uri=uri, isolation_level=None)
        conn.text_factory = lenient_text
        try:
            yield conn
        finally:
            conn.close()
