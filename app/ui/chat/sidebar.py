"""The list of saved chats beside the conversation: search, new, rename, delete, export."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.chat.list_model import ChatIdRole, ChatListModel


class ChatSidebar(QWidget):
    chat_selected = Signal(int)
    new_requested = Signal()
    delete_requested = Signal(int)
    export_requested = Signal(int)

    def __init__(self, chats: ChatListModel) -> None:
        super().__init__()
        self.chats = chats
        self.setFixedWidth(230)
        self.search = QLineEdit(placeholderText="Search chats")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        new = QPushButton("New chat", objectName="primary")
        new.clicked.connect(self.new_requested)
        self.view = QListView()
        self.view.setModel(chats)
        self.view.setEditTriggers(
            QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed
        )
        self.view.setTextElideMode(Qt.ElideRight)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        rename = QPushButton("Rename")
        rename.clicked.connect(self._rename)
        delete = QPushButton("Delete")
        delete.clicked.connect(self._delete)
        export = QPushButton("Export")
        export.clicked.connect(self._export)
        row = QHBoxLayout()
        for button in (rename, delete, export):
            button.setObjectName("small")
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 0, 14)
        layout.addWidget(new)
        layout.addWidget(self.search)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)

    def current_id(self) -> int:
        index = self.view.currentIndex()
        return index.data(ChatIdRole) if index.isValid() else 0

    def select(self, chat_id: int) -> None:
        """Reload the list and make ``chat_id`` current (without re-announcing it)."""
        self.view.selectionModel().blockSignals(True)
        self.chats.reload()
        row = self.chats.row_of(chat_id)
        if row >= 0:
            self.view.selectionModel().setCurrentIndex(
                self.chats.index(row), QItemSelectionModel.ClearAndSelect
            )
        self.view.selectionModel().blockSignals(False)

    @Slot(str)
    def _on_search(self, text: str) -> None:
        current = self.current_id()
        self.chats.reload(text)
        self.select(current)

    @Slot()
    def _on_current(self, current, _previous) -> None:
        if current.isValid():
            self.chat_selected.emit(current.data(ChatIdRole))

    @Slot()
    def _rename(self) -> None:
        if self.view.currentIndex().isValid():
            self.view.edit(self.view.currentIndex())

    @Slot()
    def _delete(self) -> None:
        if self.current_id():
            self.delete_requested.emit(self.current_id())

    @Slot()
    def _export(self) -> None:
        if self.current_id():
            self.export_requested.emit(self.current_id())
