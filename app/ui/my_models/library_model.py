"""The local model library as a Qt table model (one row per model).

The basic columns are Name, Quant, Size, Source, From; ``set_detail_columns(True)`` adds
what the GGUF headers say (Architecture, Params, Context) and the speed here before Source, for
My Models. "Speed here" is the quant picker's figure (``quants.pick.rows``: generation tokens a
second with a chat's worth of context, measured, calibrated or estimated), set by the page with
``set_speeds`` once worked out off the GUI thread ("…" until then, "—" when unknown). A file
Hearth's check refuses is marked "(can't be used)" after its name, the reason in its tooltip.

Names are the model's own (``SmolLM2-135M-Instruct``, quant apart) and "From" says its Hub repo,
else its folder with ``~`` for the home folder; the file's whole path is every cell's tooltip.
(The Hugging Face cache's path, with its snapshot hash, is no name to read, issue 19.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.common.units import format_size
from app.core.library import names

if TYPE_CHECKING:  # the catalog brings the download code: not needed to show the list
    from app.core.fit.speed import Speed
    from app.core.library.catalog import LocalModel

ModelRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
SortRole = (
    Qt.ItemDataRole.UserRole + 3
)  # numbers for Size, Params and Context; lower-case text otherwise

BASIC_COLUMNS = ("Name", "Quant", "Size", "Source", "From")
DETAIL_COLUMNS = (
    "Name",
    "Quant",
    "Size",
    "Architecture",
    "Params",
    "Context",
    "Speed here",
    "Source",
    "From",
)
SOURCE_LABELS = {
    "starter": "Starter model",
    "hearth": "Hearth",
    "hf-cache": "Hugging Face cache",
    "folder": "Your folder",
    "lmstudio": "LM Studio",
    "ollama": "Ollama",
}
_RIGHT = {"Size", "Params", "Context", "Speed here"}

Index = QModelIndex | QPersistentModelIndex


def where_from(model: LocalModel) -> str:
    """The repo a model came from, else its folder (``~/models``)."""
    return model.repo_id or shown_folder(model.path.parent)


def shown_folder(folder: Path) -> str:
    """A folder as the user reads it: ``~/models`` under the home folder, else in full."""
    try:
        return str(Path("~") / folder.relative_to(Path.home()))
    except ValueError:
        return str(folder)


def path_line(model: LocalModel) -> str:
    """The line under My Models' table: the file, where it came from, and its folder once
    ("X.gguf from /m/starter: /m/starter/X.gguf" said the folder twice, issue 19)."""
    origin = f" from {model.repo_id}" if model.repo_id else ""
    return f"{model.path.name}{origin}, in {shown_folder(model.path.parent)}"


def _cell(model: LocalModel, column: str) -> str:
    if column == "Name":
        name = names.base_name(model)
        return f"{name} (can't be used)" if model.problem else name
    if column == "Quant":
        return model.quant or "?"
    if column == "Size":
        return format_size(model.size_bytes)
    if column == "Architecture":
        return model.architecture or "?"
    if column == "Params":
        # Imported here: app.core.hub.files brings the fit estimate and the GGUF reader,
        # ~15 ms of the studio's start, for a column My Models shows.
        from app.core.hub.files import format_params

        return format_params(model.parameters) or "?"
    if column == "Context":
        return f"{model.context_length:,}" if model.context_length else "?"
    if column == "Source":
        return SOURCE_LABELS.get(model.source, model.source)
    return where_from(model)


class LibraryModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._models: list[LocalModel] = []
        self._adapters: list[LocalModel] = []  # LoRA adapters: for Chat's chooser, not rows
        self._columns: tuple[str, ...] = BASIC_COLUMNS
        self.scanned = False  # True once a scan has set the list: empty then means "none"
        self._speeds: dict[str, Speed | None] | None = None  # by path; None: not worked out

    def set_models(self, models: list[LocalModel]) -> None:
        """The scan's models; its LoRA adapters (``adapter_of``) are kept apart, never rows."""
        self.scanned = True
        self.beginResetModel()
        self._models = [m for m in models if m.adapter_of is None]
        self._adapters = [m for m in models if m.adapter_of is not None]
        self._speeds = None
        self.endResetModel()

    def set_speeds(self, speeds: dict[str, Speed | None]) -> None:
        """Each file's speed here by path (None: it cannot be told), for "Speed here"."""
        self._speeds = dict(speeds)
        column = self.column("Speed here")
        if self._models and column >= 0:
            self.dataChanged.emit(self.index(0, column), self.index(len(self._models) - 1, column))

    def speed(self, model: LocalModel) -> Speed | None:
        return (self._speeds or {}).get(str(model.path))

    def set_detail_columns(self, on: bool) -> None:
        columns = DETAIL_COLUMNS if on else BASIC_COLUMNS
        if columns != self._columns:
            self.beginResetModel()
            self._columns = columns
            self.endResetModel()

    def column(self, name: str) -> int:
        """The index of a column by its header, -1 when not shown."""
        return self._columns.index(name) if name in self._columns else -1

    def models(self) -> list[LocalModel]:
        return list(self._models)

    def adapters(self) -> list[LocalModel]:
        """The LoRA adapters the scan found (each names its base model in ``adapter_of``)."""
        return list(self._adapters)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._models)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if (
            orientation == Qt.Horizontal
            and role == Qt.DisplayRole
            and 0 <= section < len(self._columns)
        ):
            return self._columns[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if (
            not index.isValid()
            or not 0 <= index.row() < len(self._models)
            or not 0 <= index.column() < len(self._columns)
        ):
            return None
        model = self._models[index.row()]
        if role == ModelRole:
            return model
        if role == PathRole:
            return str(model.path)
        column = self._columns[index.column()]
        speed = self.speed(model)
        if column == "Speed here" and role == Qt.ItemDataRole.DisplayRole:
            return "…" if self._speeds is None else speed.short if speed else "—"
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(model, column)
        if role == SortRole:
            number = {
                "Size": model.size_bytes,
                "Params": model.parameters,
                "Context": model.context_length,
                "Speed here": speed.gen_tok_s if speed else 0,
            }.get(column, "")
            return (number or 0) if column in _RIGHT else _cell(model, column).lower()
        if column == "Speed here" and role == Qt.ItemDataRole.ToolTipRole and self._speeds is None:
            return "Working out how fast it would write here..."  # a lone "…" looked cut
        if column == "Speed here" and role == Qt.ItemDataRole.ToolTipRole and speed:
            from app.ui.quant_picker.model import SPEED_BASIS  # the picker's words for it

            return (
                f"About {speed.gen_tok_s:,.1f} tokens a second writing here, with "
                f"{speed.depth:,} tokens of chat so far ({SPEED_BASIS[speed.basis]})"
            )
        if (
            role == Qt.ItemDataRole.ToolTipRole
        ):  # a file Hearth refuses: why, in the check's own words
            return f"{model.problem}\n{model.path}" if model.problem else str(model.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _RIGHT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
