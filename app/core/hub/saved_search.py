"""Discover's last search results, kept in ``discover_results.json`` for offline use.

Read through the one tolerant reader (``json_file.read_json``): every value is checked for its
type here, because the page hands them straight to Qt widgets (``setText(5)`` raises TypeError)
and to the row painter. A result of the wrong shape is dropped, the others shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.core.common.json_file import Damaged, Loaded, read_json, write_json
from app.core.hub.files import HubModel

FILE_NAME = "discover_results.json"
VERSION = 1
QUERY_KEYS = ("text", "sort", "author", "architecture", "size")


@dataclass(frozen=True)
class SavedSearch:
    query: dict[str, str] = field(default_factory=dict)  # QUERY_KEYS -> text
    saved_at: datetime | None = None
    models: tuple[HubModel, ...] = ()


def save(path: Path, query: dict[str, str], models: list[HubModel]) -> None:
    """Write the results (atomically); raises OSError when the folder is not writable."""
    write_json(path, _document(SavedSearch(query, datetime.now(), tuple(models))), indent=None)


def load(path: Path) -> Loaded[SavedSearch | None]:
    """The saved search (None when there is none), with a sentence when it was damaged; a
    file with some results of the wrong shape is written back without them (the original
    kept aside), so the next start does not say it again."""
    return read_json(path, "The saved search results", _parse, lambda: None, dump=_document)


def _document(saved: SavedSearch | None) -> dict[str, Any]:
    saved = saved or SavedSearch()
    return {
        "version": VERSION,
        "saved_at": (saved.saved_at or datetime.now()).isoformat(timespec="seconds"),
        "query": {k: saved.query.get(k) or "" for k in QUERY_KEYS},
        "models": [m.to_json() for m in saved.models],
    }


def _parse(raw: Any, notes: list[str]) -> SavedSearch:
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("models"), list)
        or not isinstance(raw.get("query"), dict)
        or not isinstance(raw.get("saved_at"), str)
    ):
        raise Damaged("it is not a list of search results")
    try:
        saved = datetime.fromisoformat(raw["saved_at"])
    except ValueError:
        raise Damaged("its date is not a date") from None
    query = {k: v for k, v in raw["query"].items() if k in QUERY_KEYS and isinstance(v, str)}
    models = []
    for number, entry in enumerate(raw["models"], 1):
        model = _model(entry)
        if model is None:
            notes.append(f"result {number} is not a model")
        else:
            models.append(model)
    return SavedSearch(query, saved, tuple(models))


_KINDS: dict[str, Any] = {
    "id": str,
    "author": str,
    "downloads": int,
    "likes": int,
    "last_modified": (str, type(None)),
    "tags": list,
    "trending_score": (int, float),
    "parameters": (int, type(None)),
    "architecture": (str, type(None)),
    "context_length": (int, type(None)),
    "quants": list,
    "size_range": (list, type(None)),
    "gated": (bool, str),
    "smallest_file": str,
    "smallest_bytes": int,
}


def _model(entry: Any) -> HubModel | None:
    """A ``HubModel.to_json`` dict with every value of its type, or None."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        return None
    for key, value in entry.items():
        kind = _KINDS.get(key)
        if kind is None or not isinstance(value, kind):
            return None
        if isinstance(value, bool) and kind not in ((bool, str),):
            return None
    if not all(isinstance(t, str) for t in (*entry.get("tags", ()), *entry.get("quants", ()))):
        return None
    size = entry.get("size_range")
    if size is not None and (
        len(size) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) for n in size)
    ):
        return None
    try:
        return HubModel.from_json(entry)
    except (ValueError, OverflowError):  # a date that is not one
        return None
