"""The saved chats as a Qt list model (newest first), filtered by a search text.

The chats come from the ``ChatHistory`` in memory. A search shows the chats matching in memory
at once, then those the file's search index finds too, read in the background: typing in the
search box never waits on the disk.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)

from app.core.chats.history import ChatHistory
from app.core.chats.store import Chat
from app.ui.common.tasks import run_task

log = logging.getLogger("hearth.ui.chat")

ChatIdRole = Qt.ItemDataRole.UserRole + 1
ChatRole = Qt.ItemDataRole.UserRole + 2

Index = QModelIndex | QPersistentModelIndex


class ChatListModel(QAbstractListModel):
    found = Signal()  # the list changed to a search's matches on disk

    def __init__(self, store: ChatHistory, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self.search = ""
        self._chats: list[Chat] = []

    def reload(self, search: str | None = None) -> None:
        if search is not None:
            self.search = search
        self._show(self.store.list_chats(self.search))
        if self.search.split():
            search = self.search
            run_task(
                self.store.find(search),
                lambda ids: self._on_found(search, ids),
                self._on_not_found,
                self,
            )

    def _show(self, chats: list[Chat]) -> None:
        self.beginResetModel()
        self._chats = chats
        self.endResetModel()

    def _on_found(self, search: str, ids: set[int]) -> None:
        if search == self.search:  # else the user typed on: a newer search follows
            self._show(self.store.in_order(ids))
            self.found.emit()

    @Slot(str)
    def _on_not_found(self, problem: str) -> None:
        log.warning("Chat search on disk failed: %s", problem)  # the matches in memory stay

    def row_of(self, chat_id: int) -> int:
        return next((i for i, c in enumerate(self._chats) if c.id == chat_id), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._chats)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._chats):
            return None
        chat = self._chats[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return chat.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{chat.title}\n{chat.model or 'no model yet'}"
        if role == ChatIdRole:
            return chat.id
        if role == ChatRole:
            return chat
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def setData(self, index: Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Renaming in place (double-click or F2)."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or not str(value).strip():
            return False
        chat = self.store.rename_chat(self._chats[index.row()].id, str(value))
        self._chats[index.row()] = chat
        self.dataChanged.emit(
            index, index, [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, ChatRole]
        )
        return True
