"""Small SQLite files (the arena's votes, the measurements): a short connection per call.

Each call opens its own connection, so the stores work from any thread; a transaction commits
when the block ends and rolls back on an exception.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from app.core.errors import HearthError


@contextlib.contextmanager
def connect(path: Path, error: type[HearthError], what: str,
            hint: str = "") -> Iterator[sqlite3.Connection]:
    """One transaction on ``path``. SQLite errors become ``error`` with a message naming
    ``what`` ("The arena file") and, when the file is unusable, ``hint``."""
    try:
        db = sqlite3.connect(path, timeout=10)
    except sqlite3.Error as exc:
        raise error(f"{what} {path} cannot be opened: {exc}") from exc
    try:
        with db:
            yield db
    except sqlite3.DatabaseError as exc:
        raise error(f"{what} {path} cannot be used: {exc}.{' ' + hint if hint else ''}") from exc
    finally:
        db.close()
