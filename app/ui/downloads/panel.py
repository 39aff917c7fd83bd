"""The downloads panel: the download list with progress bars; Pause, Resume, Cancel, Retry; and
for a finished download, "Chat with it" and "Show in My Models"."""

from __future__ import annotations

from PySide6.QtCore import (
    QMargins,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.common.units import format_size
from app.ui.common.columns import ColumnFitter
from app.ui.downloads.manager import DownloadManager
from app.ui.downloads.model import COLUMNS, PROGRESS_COLUMN, Role

# Which buttons apply to a row in each state.
_ACTIONS = {
    "queued": {"pause", "cancel"},
    "downloading": {"pause", "cancel"},
    "verifying": set(),
    "paused": {"resume", "cancel"},
    "failed": {"retry", "cancel"},
    "done": {"chat", "show"},
}
MESSAGE_COLUMN = COLUMNS.index("Message")
# Columns hidden while every row leaves them empty (finished downloads have no speed).
EMPTY_HIDDEN = tuple(COLUMNS.index(name) for name in ("Speed", "Time left", "Message"))
BAR_WIDTH = 120  # the bar; the byte counts are written beside it, never over it
GAP = 8


def progress_rects(cell: QRect) -> tuple[QRect, QRect]:
    """Where the bar and the byte counts go in a progress cell: side by side. Written on the
    bar, the counts were clipped ("105.5 MB / 105.5 M") and drawn over it (issue 19)."""
    inner = cell.adjusted(4, 5, -4, -5)
    bar = QRect(inner.left(), inner.top(), min(BAR_WIDTH, inner.width()), inner.height())
    text = QRect(
        bar.right() + GAP, cell.top(), max(0, cell.right() - bar.right() - GAP), cell.height()
    )
    return bar, text


def paint_bar(painter: QPainter, rect: QRect, fraction: float, palette: QPalette) -> None:
    """A track in the field colour and the part done in the accent (the palette's Link). The
    style's bar filled in the selection colour, so a finished bar on a selected row looked
    empty in the light theme (issue 19)."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    radius = rect.height() / 2
    painter.setPen(palette.color(QPalette.ColorRole.Mid))
    painter.setBrush(palette.color(QPalette.ColorRole.Base))
    painter.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), radius, radius)
    width = round(rect.width() * max(0.0, min(1.0, fraction)))
    if width > 0:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Link))
        painter.drawRoundedRect(
            QRectF(rect.left(), rect.top(), max(width, rect.height()), rect.height()),
            radius,
            radius,
        )


class ProgressDelegate(QStyledItemDelegate):
    """Draws the progress column as a bar with the byte counts written beside it."""

    def paint(
        self, painter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        total, done = index.data(Role.Total) or 0, index.data(Role.Done) or 0
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawPrimitive(
            QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget
        )
        bar_rect, text_rect = progress_rects(option.rect)
        painter.save()
        paint_bar(painter, bar_rect, done / total if total else 0.0, option.palette)
        selected = option.state & QStyle.StateFlag.State_Selected
        painter.setPen(
            option.palette.color(
                QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
            )
        )
        painter.setFont(option.font)
        painter.drawText(
            text_rect,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            index.data(Qt.ItemDataRole.DisplayRole) or "",
        )
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        """Room for the bar and the widest the counts get (the total over the total)."""
        metrics = option.fontMetrics
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        total = index.data(Role.Total) or 0
        widest = f"{format_size(total)} / {format_size(total)}" if total else text
        width = max(metrics.horizontalAdvance(text), metrics.horizontalAdvance(widest))
        return QSize(4 + BAR_WIDTH + GAP + width + 8, max(28, metrics.height() + 10))


class DownloadsPanel(QWidget):
    """A table of downloads and buttons acting on the selected one."""

    chat_requested = Signal(str)  # a finished download's model file
    show_requested = Signal(str)  # the same, to be shown in My Models

    def __init__(self, manager: DownloadManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.table = QTableView()
        self.table.setModel(manager.model)
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        # Within the dock's width: the file, repository and message elided (whole in the
        # tooltip). Sized to contents, the columns scrolled sideways at 1024 px (issue 19).
        # The file name is served first: it was cut ("…Q4_K_…") beside empty columns.
        self.columns = ColumnFitter(self.table, elastic=(0, 1, MESSAGE_COLUMN), first=(0,))

        self.empty = QLabel("No downloads. Pick a model on the Discover page to download it.")
        self.buttons = {
            name: QPushButton(name.capitalize()) for name in ("pause", "resume", "cancel", "retry")
        }
        self.buttons["show"] = QPushButton("Show in My Models")
        self.buttons["chat"] = QPushButton("Chat with it", objectName="primary")
        self.buttons["pause"].clicked.connect(self.pause_selected)
        self.buttons["resume"].clicked.connect(self.resume_selected)
        self.buttons["cancel"].clicked.connect(self.cancel_selected)
        self.buttons["retry"].clicked.connect(self.retry_selected)
        self.buttons["chat"].clicked.connect(self.chat_selected)
        self.buttons["show"].clicked.connect(self.show_selected)

        row = QHBoxLayout()
        row.addWidget(self.empty, 1)
        row.addStretch(1)  # the buttons keep their size when the hint is hidden
        for button in self.buttons.values():
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)

        model = manager.model
        for signal in (model.dataChanged, model.rowsInserted, model.rowsRemoved, model.modelReset):
            signal.connect(self._hide_empty_columns)
        self._hide_empty_columns()
        self.table.selectionModel().selectionChanged.connect(self._refresh_buttons)
        model.dataChanged.connect(self._refresh_buttons)
        model.rowsInserted.connect(self._refresh_buttons)
        model.rowsRemoved.connect(self._refresh_buttons)
        manager.state_changed.connect(self._on_state)
        self._refresh_buttons()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Three rows tall: the dock opens without squeezing the page above it to a header
        (issue 19: the model page's quant table); drag its edge for more."""
        table = self.table
        rows = table.verticalHeader().defaultSectionSize() * 3
        height = table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth()
        buttons = self.buttons["pause"].sizeHint().height()
        layout = self.layout()  # set in __init__
        margins = layout.contentsMargins() if layout is not None else QMargins()
        spacing = layout.spacing() if layout is not None else 0
        return QSize(
            super().sizeHint().width(),
            height + buttons + spacing + margins.top() + margins.bottom(),
        )

    def _hide_empty_columns(self, *_args) -> None:
        """Speed, Time left and Message are shown only while a row has something in them: for
        finished downloads they stood empty, and their width was taken from the file's name."""
        model, header = self.manager.model, self.table.horizontalHeader()
        rows = range(model.rowCount())
        for column in EMPTY_HIDDEN:
            empty = not any(model.index(row, column).data() for row in rows)
            if header.isSectionHidden(column) != empty:
                header.setSectionHidden(column, empty)

    @Slot(str, str)
    def _on_state(self, key: str, state: str) -> None:
        """A download that finished is selected (unless the user chose another row), so its
        "Chat with it" shows at once."""
        if state == "done" and self.selected_key() in (None, key):
            self.select(key)

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
    def chat_selected(self) -> None:
        if path := self._selected_path():
            self.chat_requested.emit(path)

    @Slot()
    def show_selected(self) -> None:
        if path := self._selected_path():
            self.show_requested.emit(path)

    def _selected_path(self) -> str:
        key = self.selected_key()
        if not key or self.manager.state(key) != "done":
            return ""
        return str(self.manager.model.value(key, Role.Path) or "")

    @Slot()
    def _refresh_buttons(self) -> None:
        key = self.selected_key()
        allowed = _ACTIONS.get(self.manager.state(key) or "", set()) if key else set()
        done = "chat" in allowed
        for name, button in self.buttons.items():
            button.setEnabled(name in allowed)
            # a finished download offers what to do with it; the others what to do with the
            # download (a row is selected by a click, or when it finishes)
            button.setVisible(done == (name in ("chat", "show")))
        self.empty.setVisible(self.manager.model.rowCount() == 0)
