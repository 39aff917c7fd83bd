"""My Models' LoRA adapters: a short section of their own under the models.

An adapter is no model: it never loads alone, so it is not a row of the library's table (nor of
Chat's model picker), yet a user who downloaded one must find it, open its folder and delete it.
The section lists the scan's adapters (``LibraryModel.adapters()``) with the model each is for,
and hides when there are none. The page's own "Show in folder" and "Delete..." act on the
adapter selected here (one selection at a time across both tables); deleting an adapter removes
its own files only, never its base model's (``catalog.delete_model``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.common.units import format_size
from app.ui.my_models.library_model import LibraryModel, ModelRole, where_from

if TYPE_CHECKING:
    from app.core.library.catalog import LocalModel

Index = QModelIndex | QPersistentModelIndex

UNKNOWN_BASE = "base model unknown"
VISIBLE_ROWS = 3  # the section's height in rows: the models' table keeps the room


def base_words(adapter: LocalModel) -> str:
    """The model an adapter is for, as its header names it."""
    return adapter.adapter_of or UNKNOWN_BASE


class AdaptersModel(QAbstractTableModel):
    """The LoRA adapters on this computer, one row each (the file, its model, size, origin)."""

    COLUMNS = ("LoRA adapter", "For model", "Size", "From")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._adapters: list[LocalModel] = []

    def set_adapters(self, adapters: list[LocalModel]) -> None:
        self.beginResetModel()
        self._adapters = sorted(adapters, key=lambda a: a.path.name.lower())
        self.endResetModel()

    def adapters(self) -> list[LocalModel]:
        return list(self._adapters)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._adapters)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._adapters):
            return None
        adapter, column = self._adapters[index.row()], index.column()
        if role == ModelRole:
            return adapter
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                adapter.path.name,
                base_words(adapter),
                format_size(adapter.size_bytes),
                where_from(adapter),
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"LoRA adapter for {base_words(adapter)}\n{adapter.path}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ShortTable(QTableView):
    """As tall as its rows (``VISIBLE_ROWS`` at most, then it scrolls), measured as laid out
    now: a height worked out once was short of a row after the theme's style sheet came."""

    def sizeHint(self) -> QSize:
        rows = min(self.model().rowCount(), VISIBLE_ROWS) if self.model() else 0
        row = self.rowHeight(0) if rows else self.verticalHeader().defaultSectionSize()
        height = self.horizontalHeader().sizeHint().height() + max(rows, 1) * row
        return QSize(super().sizeHint().width(), height + 2 * self.frameWidth())

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()


class AdaptersSection(QWidget):
    """The title and the adapters' table; hidden while the library has no adapter."""

    def __init__(self, library: LibraryModel, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.model = AdaptersModel(self)
        self.title = QLabel(wordWrap=True)
        self.title.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.table = ShortTable()
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        for column, mode in enumerate(
            (
                QHeaderView.ResizeMode.Stretch,
                QHeaderView.ResizeMode.Stretch,
                QHeaderView.ResizeMode.ResizeToContents,
                QHeaderView.ResizeMode.Stretch,
            )
        ):
            header.setSectionResizeMode(column, mode)
        self._box = layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        library.modelReset.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        adapters = self.library.adapters()
        self.model.set_adapters(adapters)
        total = format_size(sum(a.size_bytes for a in adapters))
        self.title.setText(
            f"<b>LoRA adapters</b> ({len(adapters)}, {total}): each changes how its model "
            "answers, chosen in Chat under Loading &gt; LoRA adapter"
        )
        self.title.setToolTip("Not models: an adapter never loads on its own.")
        self.table.updateGeometry()
        self.setVisible(bool(adapters))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._cap_height()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:  # rows or style changed: measure again
            self._cap_height()
        return handled

    def _cap_height(self) -> None:
        """No taller than its title and rows at this width: the splitter gives the rest of
        the room to the models' table (a wrapped title leaves the layout no maximum)."""
        margins, spacing = self._box.contentsMargins(), self._box.spacing()
        height = (
            margins.top()
            + self.title.heightForWidth(max(1, self.width() - margins.left() - margins.right()))
            + spacing
            + self.table.sizeHint().height()
            + margins.bottom()
        )
        if height != self.maximumHeight():
            self.setMaximumHeight(height)

    def selected(self) -> list[LocalModel]:
        return [i.data(ModelRole) for i in self.table.selectionModel().selectedRows()]
