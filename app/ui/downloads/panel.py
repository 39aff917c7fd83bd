"""The downloads panel: the download list with progress bars; Pause, Resume, Cancel, Retry."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.ui.downloads.manager import DownloadManager
from app.ui.downloads.model import PROGRESS_COLUMN, Role

# Which buttons apply to a row in each state.
_ACTIONS = {
    "queued": {"pause", "cancel"},
    "downloading": {"pause", "cancel"},
    "verifying": set(),
    "paused": {"resume", "cancel"},
    "failed": {"retry", "cancel"},
    "done": set(),
}


class ProgressDelegate(QStyledItemDelegate):
    """Draws the progress column as a progress bar with the byte counts on it."""

    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        total, done = index.data(Role.Total) or 0, index.data(Role.Done) or 0
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(1000 * done / total) if total else 0
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        bar.textVisible = True
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


class DownloadsPanel(QWidget):
    """A table of downloads and buttons acting on the selected one."""

    def __init__(self, manager: DownloadManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.table = QTableView()
        self.table.setModel(manager.model)
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)

        self.empty = QLabel("No downloads. Pick a model on the Discover page to download it.")
        self.buttons = {
            name: QPushButton(name.capitalize()) for name in ("pause", "resume", "cancel", "retry")
        }
        self.buttons["pause"].clicked.connect(self.pause_selected)
        self.buttons["resume"].clicked.connect(self.resume_selected)
        self.buttons["cancel"].clicked.connect(self.cancel_selected)
        self.buttons["retry"].clicked.connect(self.retry_selected)

        row = QHBoxLayout()
        row.addWidget(self.empty, 1)
        for button in self.buttons.values():
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)

        model = manager.model
        self.table.selectionModel().selectionChanged.connect(self._refresh_buttons)
        model.dataChanged.connect(self._refresh_buttons)
        model.rowsInserted.connect(self._refresh_buttons)
        model.rowsRemoved.connect(self._refresh_buttons)
        self._refresh_buttons()

    def selected_key(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(Role.Key) if rows else None

    def select(self, key: str) -> None:
        row = self.manager.model.row_of(key)
        if row is not None:
            self.table.selectRow(row)

    @Slot()
    def pause_selected(self) -> None:
        if key := self.selected_key():
            self.manager.pause(key)

    @Slot()
    def resume_selected(self) -> None:
        if key := self.selected_key():
            self.manager.resume(key)

    @Slot()
    def cancel_selected(self) -> None:
        if key := self.selected_key():
            self.manager.cancel(key)

    @Slot()
    def retry_selected(self) -> None:
        if key := self.selected_key():
            self.manager.retry(key)

    @Slot()
    def _refresh_buttons(self) -> None:
        key = self.selected_key()
        allowed = _ACTIONS.get(self.manager.state(key) or "", set()) if key else set()
        for name, button in self.buttons.items():
            button.setEnabled(name in allowed)
        self.empty.setVisible(self.manager.model.rowCount() == 0)
