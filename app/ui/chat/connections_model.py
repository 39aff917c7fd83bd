"""The saved remote connections as a Qt list model (one row per connection)."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.inference.remote import Connection

ConnectionRole = Qt.ItemDataRole.UserRole + 1
NameRole = Qt.ItemDataRole.UserRole + 2
UrlRole = Qt.ItemDataRole.UserRole + 3
HasKeyRole = Qt.ItemDataRole.UserRole + 4

Index = QModelIndex | QPersistentModelIndex


class ConnectionsModel(QAbstractListModel):
    """Rows show the name; the tooltip gives the address. The key is never shown."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._connections: list[Connection] = []

    def set_connections(self, connections: list[Connection]) -> None:
        self.beginResetModel()
        self._connections = list(connections)
        self.endResetModel()

    def connections(self) -> list[Connection]:
        return list(self._connections)

    def connection(self, row: int) -> Connection | None:
        return self._connections[row] if 0 <= row < len(self._connections) else None

    def row_of(self, name: str) -> int:
        return next((r for r, c in enumerate(self._connections) if c.name == name), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._connections)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if (
            not index.isValid()
            or not 0 <= index.row() < len(self._connections)
            or index.column() != 0
        ):
            return None
        connection = self._connections[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return connection.name
        if role == Qt.ItemDataRole.ToolTipRole:
            key = " · API key set" if connection.api_key else ""
            return f"{connection.base_url}{key}"
        if role == ConnectionRole:
            return connection
        if role == NameRole:
            return connection.name
        if role == UrlRole:
            return connection.base_url
        if role == HasKeyRole:
            return bool(connection.api_key)
        return None
