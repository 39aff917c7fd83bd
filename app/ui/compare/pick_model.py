"""The local GGUF files the user can pick for measuring: a checkable table over the library.

Three columns (file, quant, size) so that the measure tab's ``ColumnFitter`` keeps the quant and
size whole and elides a long file name (whole in the tooltip): one line of text scrolled the
list sideways in a 1024-px window (issue 19).

Follows the library model (``app/ui/my_models/library_model.py``): when the library is rescanned the
rows follow, and the files that were checked stay checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Slot

from app.core.common.units import format_size
from app.core.library.catalog import LocalModel
from app.ui.my_models.library_model import LibraryModel

PathRole = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("File", "Quant", "Size")

Index = QModelIndex | QPersistentModelIndex


def _family(model: LocalModel) -> tuple:
    """What quants of one model share (files without a header go on their own)."""
    if model.architecture and model.parameters:
        return (model.architecture, model.parameters)
    return ("", str(model.path))


class PickModel(QAbstractTableModel):
    def __init__(self, library: LibraryModel, parent=None) -> None:
        super().__init__(parent)
        self._library = library
        self._models: list[LocalModel] = []
        self._checked: set[str] = set()
        for signal in (
            library.modelReset,
            library.rowsInserted,
            library.rowsRemoved,
            library.layoutChanged,
        ):
            signal.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        models = [m for m in self._library.models() if m.path.name.lower().endswith(".gguf")]
        # Quants of one model together (largest file first), models by their largest's name.
        groups: dict[tuple, str] = {}
        for m in sorted(models, key=lambda m: -m.size_bytes):
            groups.setdefault(_family(m), m.name.lower())
        models.sort(key=lambda m: (groups[_family(m)], _family(m), -m.size_bytes))
        self.beginResetModel()
        self._models = models
        self.endResetModel()

    def checked_paths(self) -> list[str]:
        """Checked files, in list order."""
        return [str(m.path) for m in self._models if str(m.path) in self._checked]

    def set_checked(self, paths: Iterable[str]) -> list[str]:
        """Check exactly ``paths``; returns those that are not in the list."""
        wanted = {str(Path(p)) for p in paths}
        known = {str(m.path) for m in self._models}
        self._checked = wanted & known
        if self._models:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._models) - 1, 0),
                [Qt.ItemDataRole.CheckStateRole],
            )
        return sorted(wanted - known)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._models)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return flags | Qt.ItemFlag.ItemIsUserCheckable if index.column() == 0 else flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._models):
            return None
        model = self._models[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (model.name, model.quant or "?", format_size(model.size_bytes))[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 2:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.CheckStateRole and index.column() == 0:
            return (
                Qt.CheckState.Checked
                if str(model.path) in self._checked
                else Qt.CheckState.Unchecked
            )
        if role == PathRole:
            return str(model.path)
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole name where the cell cuts it
            what = f"{model.quant or '?'}, {format_size(model.size_bytes)}"
            return f"{model.name} ({what})\n{model.path}"
        return None

    def setData(self, index: Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            role != Qt.ItemDataRole.CheckStateRole
            or not index.isValid()
            or index.column() != 0
            or not 0 <= index.row() < len(self._models)
        ):
            return False
        path = str(self._models[index.row()].path)
        checked = (
            Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        )
        if checked:
            self._checked.add(path)
        else:
            self._checked.discard(path)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True
