"""A push button drawn in a table cell (no widget per row): the model page's Download buttons and
the quant picker's. The cell's text is the button's; ``enabled_role`` says whether it can be
pressed; ``clicked(index)`` when it is."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionViewItem,
)


class ButtonDelegate(QStyledItemDelegate):
    clicked = Signal(QModelIndex)

    def __init__(self, parent=None, *, enabled_role: int) -> None:
        super().__init__(parent)
        self.enabled_role = enabled_role

    def paint(
        self, painter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        if not text:
            return  # no action in this row
        button = QStyleOptionButton()
        button.rect = option.rect.adjusted(4, 3, -4, -3)
        button.text = text
        enabled = bool(index.data(self.enabled_role))
        button.state = QStyle.StateFlag.State_Raised | (
            QStyle.StateFlag.State_Enabled if enabled else QStyle.StateFlag.State_None
        )
        if enabled and option.state & QStyle.StateFlag.State_MouseOver:
            button.state |= QStyle.StateFlag.State_MouseOver
        button.palette = option.palette
        style = option.widget.style() if option.widget else QApplication.style()
        if not enabled:
            # Drawn by hand, flat and greyed: drawn by the style for the view, the stylesheet's
            # button rules made it look pressable (Download of a gated model without a token).
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setPen(option.palette.color(QPalette.ColorRole.Mid))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(button.rect).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
            painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(button.rect, Qt.AlignmentFlag.AlignCenter, text)
            painter.restore()
            return
        style.drawControl(QStyle.ControlElement.CE_PushButton, button, painter, option.widget)

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        return QSize(max(110, QFontMetrics(option.font).horizontalAdvance(text) + 36), 30)

    def editorEvent(
        self,
        event: QEvent,
        model,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and index.data(self.enabled_role)
            and isinstance(event, QMouseEvent)
            and option.rect.contains(event.position().toPoint())
        ):
            self.clicked.emit(index.sibling(index.row(), index.column()))  # a QModelIndex copy
            return True
        return event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick)
