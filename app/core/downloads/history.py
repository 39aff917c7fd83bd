"""The downloads list kept across restarts, in ``downloads.json``.

Unfinished downloads come back from their part files (``Downloader.list_unfinished``); this file
keeps the rest of the list: the finished ones (so "Chat with it" is still offered after a
restart) and the failed ones with their reason. Read through the one tolerant reader
(``json_file.read_json``): a row of the wrong shape is dropped, the others kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.core.common.json_file import Damaged, Loaded, read_json, write_json

FILE_NAME = "downloads.json"
VERSION = 1
KEPT_STATES = ("done", "failed")
MAX_ROWS = 200  # the newest are kept; an older finished download is in My Models anyway


@dataclass(frozen=True)
class PastDownload:
    repo_id: str
    filename: str
    revision: str
    state: str  # "done" or "failed"
    size_bytes: int = 0
    path: str = ""  # the model file, when done
    message: str = ""  # why it failed

    @property
    def key(self) -> str:
        return f"{self.repo_id}/{self.filename}"


_TEXT = ("repo_id", "filename", "revision", "state", "path", "message")


def _row(raw: Any) -> PastDownload | None:
    if not isinstance(raw, dict):
        return None
    if not all(isinstance(raw.get(name, ""), str) for name in _TEXT):
        return None
    size = raw.get("size_bytes", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None
    row = PastDownload(**{name: raw.get(name, "") for name in _TEXT}, size_bytes=size)
    if not row.repo_id or not row.filename or row.state not in KEPT_STATES:
        return None
    return row


def _parse(raw: Any, notes: list[str]) -> list[PastDownload]:
    if not isinstance(raw, dict) or not isinstance(raw.get("downloads"), list):
        raise Damaged("it holds no list of downloads")
    rows = [_row(item) for item in raw["downloads"]]
    if None in rows:
        notes.append(f"{rows.count(None)} download(s) of the wrong shape")
    return [r for r in rows if r is not None][-MAX_ROWS:]


def _dump(rows: list[PastDownload]) -> dict[str, Any]:
    return {"version": VERSION, "downloads": [asdict(r) for r in rows[-MAX_ROWS:]]}


def load(path: Path) -> Loaded[list[PastDownload]]:
    """The rows saved last time ([] without a file), and a sentence if the file was damaged."""
    return read_json(path, "The downloads list", _parse, list, dump=_dump)


def save(path: Path, rows: list[PastDownload]) -> None:
    """Replace the file (atomically); raises OSError when it cannot be written."""
    write_json(path, _dump([r for r in rows if r.state in KEPT_STATES]), indent=None)
