"""My Models: every local GGUF model, with the starter model first."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableView, QVBoxLayout,
    QWidget,
)

from app.ui.library_model import LibraryModel, PathRole


class ModelsPage(QWidget):
    chat_requested = Signal(str)
    refresh_requested = Signal()

    def __init__(self, library: LibraryModel) -> None:
        super().__init__()
        self.library = library
        self.table = QTableView()
        self.table.setModel(library)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.Stretch)
        self.table.doubleClicked.connect(self._chat_with_current)
        self.summary = QLabel(objectName="hint")
        library.modelReset.connect(self._update_summary)

        chat = QPushButton("Chat with this model", objectName="primary")
        chat.clicked.connect(self._chat_with_current)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(refresh)
        buttons.addWidget(chat)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(QLabel("My Models", objectName="pageTitle"))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    @Slot()
    def _update_summary(self) -> None:
        total = sum(m.size_bytes for m in self.library.models())
        self.summary.setText(f"{self.library.rowCount()} model(s), {total / 1e9:.2f} GB on disk")
        if self.library.rowCount():
            self.table.selectRow(0)

    @Slot()
    def _chat_with_current(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.chat_requested.emit(self.library.data(rows[0], PathRole))
