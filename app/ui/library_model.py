"""The local model library as a Qt table model (one row per model file)."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.library import LocalModel
from app.core.units import format_size

ModelRole = Qt.UserRole + 1
PathRole = Qt.UserRole + 2

_COLUMNS = ("Name", "Quant", "Size", "Source", "Location")
_SOURCE_LABELS = {"starter": "Starter model", "hearth": "Hearth", "hf-cache": "Hugging Face cache"}

Index = QModelIndex | QPersistentModelIndex


class LibraryModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._models: list[LocalModel] = []

    def set_models(self, models: list[LocalModel]) -> None:
        self.beginResetModel()
        self._models = list(models)
        self.endResetModel()

    def models(self) -> list[LocalModel]:
        return list(self._models)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._models)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole and 0 <= section < len(_COLUMNS):
            return _COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._models):
            return None
        model = self._models[index.row()]
        if role == ModelRole:
            return model
        if role == PathRole:
            return str(model.path)
        if role == Qt.DisplayRole:
            return (model.name, model.quant or "?", format_size(model.size_bytes),
                    _SOURCE_LABELS.get(model.source, model.source), str(model.path.parent)
                    )[index.column()]
        if role == Qt.ToolTipRole:
            return str(model.path)
        if role == Qt.TextAlignmentRole and index.column() == 2:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None
