"""The saved chats as a Qt list model (newest first), filtered by a search text."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.chats.store import Chat, ChatStore

ChatIdRole = Qt.UserRole + 1
ChatRole = Qt.UserRole + 2

Index = QModelIndex | QPersistentModelIndex


class ChatListModel(QAbstractListModel):
    def __init__(self, store: ChatStore, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self.search = ""
        self._chats: list[Chat] = []

    def reload(self, search: str | None = None) -> None:
        if search is not None:
            self.search = search
        self.beginResetModel()
        self._chats = self.store.list_chats(self.search)
        self.endResetModel()

    def row_of(self, chat_id: int) -> int:
        return next((i for i, c in enumerate(self._chats) if c.id == chat_id), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._chats)

    def data(self, index: Index, role: int = Qt.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._chats):
            return None
        chat = self._chats[index.row()]
        if role in (Qt.DisplayRole, Qt.EditRole):
            return chat.title
        if role == Qt.ToolTipRole:
            return f"{chat.title}\n{chat.model or 'no model yet'}"
        if role == ChatIdRole:
            return chat.id
        if role == ChatRole:
            return chat
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.NoItemFlags
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsEditable

    def setData(self, index: Index, value, role: int = Qt.EditRole) -> bool:
        """Renaming in place (double-click or F2)."""
        if role != Qt.EditRole or not index.isValid() or not str(value).strip():
            return False
        chat = self.store.rename_chat(self._chats[index.row()].id, str(value))
        self._chats[index.row()] = chat
        self.dataChanged.emit(index, index, [Qt.DisplayRole, Qt.EditRole, ChatRole])
        return True
