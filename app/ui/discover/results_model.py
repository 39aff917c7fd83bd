"""Hub search results as a list model, filled a page at a time as the view scrolls; and a
repo's GGUF files as a table model (``QuantFilesModel``) for the model page.

``search(pages)`` starts a new search (a ``hub.SearchPages``); the rows shown stay until its
first page arrives, so a failed or slow search leaves the last results usable. Later pages come
through ``canFetchMore``/``fetchMore``. Every page is fetched on the thread pool
(``tasks.run_task``); a page that failed can be asked for again with ``retry()``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QByteArray,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)

from app.core.common.units import format_size
from app.core.hub.adapters import adapter_words
from app.core.hub.client import age
from app.core.hub.files import HubModel, QuantFile, format_params, format_size_range
from app.core.hub.fit import FIT_UNKNOWN_WHY
from app.ui.common.tasks import TaskHandle, run_task

log = logging.getLogger("hearth.ui.discover")

Index = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    Id = Qt.ItemDataRole.UserRole + 1
    Author = Qt.ItemDataRole.UserRole + 2
    Downloads = Qt.ItemDataRole.UserRole + 3
    Likes = Qt.ItemDataRole.UserRole + 4
    Updated = Qt.ItemDataRole.UserRole + 5
    SizeRange = Qt.ItemDataRole.UserRole + 6
    Tags = Qt.ItemDataRole.UserRole + 7
    Model = Qt.ItemDataRole.UserRole + 8
    Gated = Qt.ItemDataRole.UserRole + 9
    Fit = (
        Qt.ItemDataRole.UserRole + 10
    )  # a hub_fit.FitBadge (None unless searched with "Fits this machine")
    FitUnknown = Qt.ItemDataRole.UserRole + 11  # a "Fits this machine" row with no estimate
    AdapterOf = Qt.ItemDataRole.UserRole + 12  # a LoRA adapter repo's base model, else None


AUTO_FETCH_PAGES = 20  # Hub pages looked through, unasked, while the filters match nothing

_ROLE_NAMES = {
    Role.Id: b"id",
    Role.Author: b"author",
    Role.Downloads: b"downloads",
    Role.Likes: b"likes",
    Role.Updated: b"updated",
    Role.SizeRange: b"sizeRange",
    Role.Tags: b"tags",
    Role.Model: b"model",
    Role.Gated: b"gated",
    Role.Fit: b"fit",
    Role.FitUnknown: b"fitUnknown",
    Role.AdapterOf: b"adapterOf",
}

ADAPTER_TAG = "LoRA adapter"


def size_range_text(model: HubModel) -> str:
    """The sizes of a repo's quants; none for an adapter repo (the parameters its name gives
    are its base model's)."""
    return "" if model.adapter_of is not None else format_size_range(model.size_range)


def tags_of(model: HubModel) -> list[str]:
    """The chips a row shows: architecture, size, quants, gated; an adapter repo's "LoRA
    adapter" in their place (it cannot chat on its own)."""
    if model.adapter_of is not None:
        return [ADAPTER_TAG] + (["gated"] if model.gated else [])
    tags = [t for t in (model.architecture, format_params(model.parameters)) if t]
    if model.quants:
        tags.append(f"{len(model.quants)} quant{'s' if len(model.quants) > 1 else ''}")
    if model.gated:
        tags.append("gated")
    return tags


class HubResultsModel(QAbstractListModel):
    loading_changed = Signal(bool)
    failed = Signal(str)  # a page could not be fetched; retry() asks again
    page_loaded = Signal(int)  # rows added by a page (0 when a page had no matches)
    results_replaced = Signal()  # a new search's first page is in

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._models: list[HubModel] = []
        self._pages = None  # the search the rows come from
        self._pending = None  # a new search waiting for its first page
        self._fetching: TaskHandle | None = None  # a newer search or show_models drops it
        self._loading = False
        self.error = ""

    # -- requests ---------------------------------------------------------------------------------

    def search(self, pages) -> None:
        """Start a new search; its first page replaces the rows when it arrives."""
        self._pending = pages
        self.error = ""
        self._start(pages)

    def show_models(self, models: list[HubModel]) -> None:
        """Rows from elsewhere (the results saved for offline use); nothing more to fetch."""
        if self._fetching is not None:
            self._fetching.cancel()
        self._pending = self._pages = None
        self.error = ""
        self._set_loading(False)
        self.beginResetModel()
        self._models = list(models)
        self.endResetModel()

    @Slot()
    def retry(self) -> None:
        """Ask again for what failed: the new search's first page, or the next page."""
        if self._loading:
            return
        self.error = ""
        target = self._pending or self._pages
        if target is not None and (self._pending is not None or not target.done):
            self._start(target)

    def models(self) -> list[HubModel]:
        return list(self._models)

    def is_loading(self) -> bool:
        return self._loading

    # -- Qt model ---------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._models)

    def roleNames(self) -> dict[int, QByteArray]:
        return {**super().roleNames(), **{int(k): QByteArray(v) for k, v in _ROLE_NAMES.items()}}

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._models):
            return None
        model = self._models[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Role.Id):
            return model.id
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [
                model.id,
                adapter_words(model.adapter_of) if model.adapter_of is not None else "",
                ", ".join(model.quants),
                model.fit.explanation if model.fit is not None else "",
                FIT_UNKNOWN_WHY if self._fit_unknown(model) else "",
            ]
            return "\n".join(line for line in lines if line)
        if role == Role.Author:
            return model.author
        if role == Role.Downloads:
            return model.downloads
        if role == Role.Likes:
            return model.likes
        if role == Role.Updated:
            return age(model.last_modified)
        if role == Role.SizeRange:
            return size_range_text(model)
        if role == Role.Tags:
            return tags_of(model)
        if role == Role.Model:
            return model
        if role == Role.Gated:
            return bool(model.gated)
        if role == Role.Fit:
            return model.fit
        if role == Role.FitUnknown:
            return self._fit_unknown(model)
        if role == Role.AdapterOf:
            return model.adapter_of
        return None

    def _fit_unknown(self, model: HubModel) -> bool:
        """Searched with "Fits this machine", yet nothing tells this model's size: shown as
        "fit unknown" (such models used to be hidden, issue 19)."""
        query = getattr(self._pages, "query", None)
        adapter = model.adapter_of is not None  # no fit of its own: no badge at all
        return model.fit is None and not adapter and getattr(query, "machine", None) is not None

    def set_fit(self, repo_id: str, badge) -> None:
        """A closer fit estimate for ``repo_id``'s row (the model page read its file header)."""
        for row, model in enumerate(self._models):
            if model.id.lower() == repo_id.lower() and model.fit != badge:
                self._models[row] = replace(model, fit=badge)
                self.dataChanged.emit(
                    self.index(row), self.index(row), [Role.Fit, Qt.ItemDataRole.ToolTipRole]
                )

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return (
            not parent.isValid()
            and self._pages is not None
            and not self._pages.done
            and not self._loading
            and not self.error
            and self._pending is None
        )

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if self.canFetchMore(parent):
            self._start(self._pages)

    # -- internals --------------------------------------------------------------------------------

    def _start(self, pages) -> None:
        self._set_loading(True)
        self._fetching = run_task(
            pages.next_page, self._on_fetched, self._on_crashed, self, key="page"
        )

    @Slot(object)
    def _on_fetched(self, models: list[HubModel]) -> None:
        pages = self._pending or self._pages
        if pages is None:  # the search was cleared meanwhile
            return
        if not models and not pages.done and pages.pages_fetched < AUTO_FETCH_PAGES:
            self._start(pages)  # the filters matched nothing yet: look further, unasked
            return
        self._set_loading(False)
        if self._pending is not None:
            self.beginResetModel()
            self._models, self._pages, self._pending = list(models), self._pending, None
            self.endResetModel()
            self.results_replaced.emit()
        elif models:
            first = len(self._models)
            self.beginInsertRows(QModelIndex(), first, first + len(models) - 1)
            self._models += models
            self.endInsertRows()
        self.page_loaded.emit(len(models))

    @Slot(str)
    def _on_crashed(self, message: str) -> None:
        """A page could not be fetched (the Hub's message, or an unexpected error)."""
        self._set_loading(False)
        self.error = message
        self.failed.emit(message)

    def _set_loading(self, loading: bool) -> None:
        if loading != self._loading:
            self._loading = loading
            self.loading_changed.emit(loading)


# -- a repo's files --------------------------------------------------------------------------------


class FileRole(IntEnum):
    File = Qt.ItemDataRole.UserRole + 1  # the QuantFile
    Fit = Qt.ItemDataRole.UserRole + 2  # the fit verdict ("" until estimated)
    State = Qt.ItemDataRole.UserRole + 3  # the download's state ("" when never queued)
    Enabled = Qt.ItemDataRole.UserRole + 4  # whether its Download button can be pressed


_ACTIONS = {
    "": "Download",
    "cancelled": "Download",
    "queued": "Queued",
    "downloading": "Downloading…",
    "verifying": "Verifying…",
    "paused": "Resume",
    "failed": "Retry",
    "done": "Downloaded",
}
_PRESSABLE = {"", "cancelled", "paused", "failed"}


class QuantFilesModel(QAbstractTableModel):
    """A repo's GGUF files, one row per downloadable model (split files are one row)."""

    QUANT, FILE, SIZE, FIT, ACTION = range(5)
    HEADERS = ("Quant", "File", "Size", "Fit here", "")

    DOWNLOADED = "Downloaded · Chat"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._files: list[QuantFile] = []
        self._repo = ""
        self._fits: dict[str, str] = {}
        self._states: dict[str, str] = {}
        self._local: dict[str, str] = {}  # file name -> its path on this computer
        self._disabled = ""

    def set_files(self, files, repo_id: str) -> None:
        self.beginResetModel()
        self._files, self._repo, self._fits, self._states = list(files), repo_id, {}, {}
        self._local = {}
        self.endResetModel()

    def set_local(self, paths: dict[str, str]) -> None:
        """The files already on this computer (name -> path): "Downloaded · Chat"."""
        if paths != self._local:
            self._local = dict(paths)
            self._changed(self.ACTION, self.ACTION)

    def local_path(self, name: str) -> str:
        return self._local.get(name, "")

    def row_of(self, name: str) -> int:
        return next((i for i, e in enumerate(self._files) if e.name == name), -1)

    def action(self, row: int) -> tuple[str, bool]:
        """The row's button: its text and whether it can be pressed."""
        index = self.index(row, self.ACTION)
        return index.data() or "", bool(index.data(FileRole.Enabled))

    def set_fits(self, fits: dict[str, str]) -> None:
        self._fits = dict(fits)
        self._changed(self.FIT, self.FIT)

    def set_state(self, key: str, state: str) -> None:
        """A download's state, by DownloadManager key (``repo/file``)."""
        for row, entry in enumerate(self._files):
            if f"{self._repo}/{entry.name}" == key:
                self._states[entry.name] = state
                self._changed(self.ACTION, self.ACTION, row)

    def set_disabled(self, reason: str) -> None:
        self._disabled = reason
        self._changed(self.ACTION, self.ACTION)

    def entry(self, row: int) -> QuantFile | None:
        return self._files[row] if 0 <= row < len(self._files) else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._files)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if (
            orientation == Qt.Horizontal
            and role == Qt.DisplayRole
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._files):
            return None
        entry, column = self._files[index.row()], index.column()
        state = self._states.get(entry.name, "")
        if role == FileRole.File:
            return entry
        if role == FileRole.Fit:
            return self._fits.get(entry.name, "")
        if role == FileRole.State:
            return state
        local = self._local.get(entry.name, "")
        if role == FileRole.Enabled:
            return bool(local) or (not self._disabled and state in _PRESSABLE)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.QUANT:
                return entry.quant or "?"
            if column == self.FILE:
                parts = f"  ({entry.parts} parts)" if entry.parts > 1 else ""
                return entry.label + parts + ("" if entry.complete else " — incomplete")
            if column == self.SIZE:
                return format_size(entry.size_bytes)
            if column == self.FIT:
                return self._fits.get(entry.name, "…")
            return self.DOWNLOADED if local else _ACTIONS.get(state, state.capitalize())
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.ACTION and local:
                return f"On this computer: {local}\nClick to chat with it."
            if column == self.ACTION and self._disabled:
                return self._disabled
            return "\n".join(entry.files)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _changed(self, first: int, last: int, row: int | None = None) -> None:
        if self._files:
            top = 0 if row is None else row
            bottom = len(self._files) - 1 if row is None else row
            self.dataChanged.emit(self.index(top, first), self.index(bottom, last))
