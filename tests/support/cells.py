"""Whether a table cell's text is read whole, as the view's default delegate paints it.

Qt's item views elide a cell's text to the column's width less a margin each side
(``PM_FocusFrameHMargin`` + 1, as ``QCommonStyle`` lays out an item's text), so a test can say
"the name is shown whole" of what the user sees rather than of the model's data.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QStyle, QTableView


def shown_text(table: QTableView, index: QModelIndex) -> str:
    """The cell's text as the view paints it in its column's width (elided when cut)."""
    text = str(index.data() or "")
    margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    room = table.columnWidth(index.column()) - 2 * margin
    return table.fontMetrics().elidedText(text, table.textElideMode(), room)


def shown_whole(table: QTableView, index: QModelIndex) -> bool:
    return not table.isColumnHidden(index.column()) and shown_text(table, index) == index.data()
