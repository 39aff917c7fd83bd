"""The list of saved chats beside the conversation: search, new, rename, delete, export."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
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
        self._shown = 0  # the chat on screen, marked again when a search's matches arrive
        self.setFixedWidth(230)
        self.search = QLineEdit(placeholderText="Search chats")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        new = QPushButton("New chat", objectName="primary")
        new.clicked.connect(self.new_requested)
        self.view = QListView()
        self.view.setModel(chats)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        chats.found.connect(self._on_found)
        rename = QPushButton("Rename")
        rename.clicked.connect(self._rename)
        delete = QPushButton("Delete")
        delete.clicked.connect(self._delete)
        export = QPushButton("Export")
        export.clicked.connect(self._export)
        self.hint = QLabel(objectName="hint", wordWrap=True)  # why a button did nothing
        self.hint.hide()
        self.view.selectionModel().currentChanged.connect(self.hint.hide)
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
        layout.addWidget(self.hint)

    def current_id(self) -> int:
        index = self.view.currentIndex()
        return index.data(ChatIdRole) if index.isValid() else 0

    def target_id(self) -> int:
        """The chat Rename, Delete and Export act on: the one marked in the list, else the
        open one (a search may hide it: the buttons used to do nothing then, issue 19)."""
        return self.current_id() or self._shown

    def select(self, chat_id: int) -> None:
        """Reload the list and make ``chat_id`` current (without re-announcing it)."""
        self._shown = chat_id
        self._mark(chat_id, reload=True)

    def _mark(self, chat_id: int, search: str | None = None, reload: bool = False) -> None:
        """Make ``chat_id`` current without announcing it, after reloading the list first when
        asked (with a new ``search``, or the one shown)."""
        self.view.selectionModel().blockSignals(True)
        if reload:
            self.chats.reload(search)
        row = self.chats.row_of(chat_id)
        if row >= 0:
            self.view.selectionModel().setCurrentIndex(
                self.chats.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        self.view.selectionModel().blockSignals(False)

    @Slot(str)
    def _on_search(self, text: str) -> None:
        self._shown = self.current_id() or self._shown
        self._mark(self._shown, text, reload=True)

    @Slot()
    def _on_found(self) -> None:
        self._mark(self._shown)

    @Slot()
    def _on_current(self, current, _previous) -> None:
        if current.isValid():
            self.chat_selected.emit(current.data(ChatIdRole))

    @Slot()
    def _rename(self) -> None:
        if not self.current_id() and self._shown:  # hidden by the search: shown again to edit
            self.search.clear()
        if self.view.currentIndex().isValid():
            self.view.edit(self.view.currentIndex())
        else:
            self._no_chat("rename")

    @Slot()
    def _delete(self) -> None:
        if self.target_id():
            self.delete_requested.emit(self.target_id())
        else:
            self._no_chat("delete")

    @Slot()
    def _export(self) -> None:
        if self.target_id():
            self.export_requested.emit(self.target_id())
        else:
            self._no_chat("export")

    def _no_chat(self, verb: str) -> None:
        """Say why a button did nothing: no chat is open or chosen."""
        self.hint.setText(f"Open or choose a chat to {verb} it.")
        self.hint.show()
