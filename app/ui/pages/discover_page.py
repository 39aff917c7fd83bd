"""Discover: search the Hugging Face Hub for GGUF models (off the GUI thread)."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton, QVBoxLayout, QWidget,
)

from app.core import hub
from app.ui.tasks import run_task


class DiscoverPage(QWidget):
    def __init__(self, endpoint: str | None = None) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.query = QLineEdit(placeholderText="Search GGUF models, e.g. 'qwen', 'llama 3 8b'")
        self.query.returnPressed.connect(self.search)
        self.sort = QComboBox()
        self.sort.addItems(list(hub.SORTS))
        search = QPushButton("Search", objectName="primary")
        search.clicked.connect(self.search)
        self.results = QListWidget()
        self.status = QLabel("Search the Hugging Face Hub for models to download.",
                             objectName="hint")
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(QLabel("Sort by:"))
        row.addWidget(self.sort)
        row.addWidget(search)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(QLabel("Discover", objectName="pageTitle"))
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)

    @Slot()
    def search(self) -> None:
        text, sort, endpoint = self.query.text().strip(), self.sort.currentText(), self.endpoint
        self.status.setText("Searching...")
        run_task(lambda: hub.search_models(text, sort=sort, endpoint=endpoint),
                 self._show, self._failed, self)

    @Slot(object)
    def _show(self, models: list) -> None:
        self.results.clear()
        for m in models:
            self.results.addItem(f"{m.id}    ⬇ {m.downloads:,}   ♥ {m.likes:,}")
        self.status.setText(f"{len(models)} model(s) found.")

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.status.setText(f"{message} The last results stay below.")
