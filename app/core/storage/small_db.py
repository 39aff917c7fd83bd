"""Small SQLite files (the arena's votes, the measurements): a short connection per call.

Each call opens its own connection, so the stores work from any thread; a transaction commits
when the block ends and rolls back on an exception.

``prepare`` runs when a store is made and never raises for what is on disk, so no such file
stops the studio from opening: a damaged file, or a folder where the file belongs, is kept
aside (``app.core.storage.db_files``), its readable rows are copied into a fresh file, and the store
says so once in ``notice``. When the folder cannot be written, the notice says that and each
later call raises the store's error, which the pages show where the store is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from app.core.common.errors import HearthError
from app.core.storage import db_files
from app.core.storage.db_salvage import copy_readable

log = logging.getLogger("hearth.files")


@contextlib.contextmanager
def connect(
    path: Path, error: type[HearthError], what: str, hint: str = ""
) -> Iterator[sqlite3.Connection]:
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


def _create(path: Path, schema: str) -> None:
    """Create the tables (when missing) and check the file; raises sqlite3.Error."""
    db = sqlite3.connect(path, timeout=10)
    try:
        db.executescript(schema)
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {check}")
    finally:
        db.close()


def prepare(path: Path, schema: str, what: str) -> str:
    """Make ``path`` a usable store with ``schema``; returns what to tell the user ("" when
    all is well). ``what`` names the file: "The arena file"."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        damaged = os.path.lexists(path) and not path.is_file()
        if not damaged:
            try:
                _create(path, schema)
                return ""
            except db_files.READ_ERRORS as exc:
                if not (db_files.is_damage(exc) or "integrity check" in str(exc)):
                    raise
                log.error("%s (%s) is damaged: %s", what, path, exc)
        aside = db_files.set_aside(path)
        _create(path, schema)
    except (OSError, sqlite3.Error, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        log.error("%s (%s) cannot be used: %s", what, path, reason)
        return f"{what} cannot be saved ({path}: {reason})."
    rows = 0
    if aside.is_file():
        db = sqlite3.connect(path, timeout=10)
        try:
            rows = copy_readable(aside, db)
        finally:
            db.close()
    log.error("%s (%s) kept aside as %s; %d row(s) recovered", what, path, aside, rows)
    kept = f"{rows} record(s) were recovered and " if rows else ""
    return f"{what} was damaged: {kept}it was kept as {aside.name} and a new one was started."
