"""Stored measurements, so that no file is measured twice on the same text with the same settings.

SQLite at ``paths.data_dir / "measurements.sqlite3"``. A row is keyed by the file (absolute
path, size and modification time: hashing gigabytes would cost more than some measurements),
the reference file it was compared with (same kind of key), the text's SHA-256 and the
settings' key. A file that changes on disk gets a new key, so it is measured again.

Each call opens its own connection, so a store made on the GUI thread can be used by a worker.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from app.core.common.errors import MeasureError
from app.core.storage import small_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS measurements (
    file_key TEXT NOT NULL,
    reference_key TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    settings_key TEXT NOT NULL,
    file_path TEXT NOT NULL,
    measured_at REAL NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (file_key, reference_key, text_hash, settings_key)
);
CREATE INDEX IF NOT EXISTS measurements_by_path ON measurements (file_path, measured_at);
"""


def file_key(path: Path) -> str:
    """Identifies one version of one file: absolute path, size and modification time."""
    path = Path(path).absolute()
    stat = path.stat()
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


class MeasureStore:
    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        # Never raises for what is on disk; ``notice`` says what was set aside, if anything.
        self.notice = small_db.prepare(self.db_path, _SCHEMA, "The measurements file")

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return small_db.connect(
            self.db_path,
            MeasureError,
            "The measurements file",
            "Deleting it forgets past measurements.",
        )

    def get(
        self, file: str, reference: str, text_hash: str, settings_key: str
    ) -> dict[str, Any] | None:
        """The stored result (a dict as ``FileMeasurement.to_json`` wrote it), or None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT result FROM measurements WHERE file_key=? AND reference_key=? "
                "AND text_hash=? AND settings_key=?",
                (file, reference, text_hash, settings_key),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(
        self, file: str, reference: str, text_hash: str, settings_key: str, result: dict[str, Any]
    ) -> None:
        path = file.split("|", 1)[0]
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?)",
                (file, reference, text_hash, settings_key, path, time.time(), json.dumps(result)),
            )

    def latest_for_path(self, path: Path, text_hash: str | None = None) -> dict[str, Any] | None:
        """The newest result stored for the current version of ``path`` (any reference),
        optionally on one text only; for showing "measured" quality beside a file."""
        try:
            key = file_key(path)
        except OSError:
            return None
        query = "SELECT result FROM measurements WHERE file_key=?"
        args: tuple[Any, ...] = (key,)
        if text_hash:
            query += " AND text_hash=?"
            args += (text_hash,)
        with self._connect() as db:
            row = db.execute(query + " ORDER BY measured_at DESC LIMIT 1", args).fetchone()
        return json.loads(row[0]) if row else None

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0])


def measurements_db(data_dir: Path) -> Path:
    """Where measurements live: ``paths.data_dir / "measurements.sqlite3"``."""
    return Path(data_dir) / "measurements.sqlite3"
