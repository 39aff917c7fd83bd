"""Paints the quant picker's cells from the model's roles: the quant with its Recommended tag,
the size bar, the fit badge and the quality bar with its source. No widget per row."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui.discover.result_delegate import _BADGES as BADGES
from app.ui.discover.result_delegate import paint_fit_cell
from app.ui.quant_picker.model import QuantPickerModel, QuantRole

TAG_BG, TAG_TEXT = QColor("#ff7a1a"), QColor("#ffffff")
TRACK = QColor("#eceff4")
SIZE_BAR = QColor("#8fa3c7")
QUALITY = ((0.66, QColor("#34a853")), (0.4, QColor("#f2b01e")), (0.0, QColor("#e0623a")))
RECOMMENDED = "Recommended"


def _text(option: QStyleOptionViewItem) -> QColor:
    """The theme's text colour (fixed dark text was unreadable in the dark theme)."""
    selected = option.state & QStyle.StateFlag.State_Selected
    return option.palette.color(
        QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
    )


class QuantPickerDelegate(QStyledItemDelegate):
    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        column = index.column()
        if column == QuantPickerModel.FIT:
            self._fit_badge(painter, option, index)
            return
        if column not in (QuantPickerModel.QUANT, QuantPickerModel.SIZE, QuantPickerModel.QUALITY):
            super().paint(painter, option, index)
            return
        painter.save()
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawPrimitive(
            QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget
        )
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = option.rect.adjusted(8, 0, -8, 0)
        if column == QuantPickerModel.QUANT:
            self._quant(painter, option, index, rect)
        elif column == QuantPickerModel.SIZE:
            self._bar(
                painter,
                option,
                rect,
                index.data(QuantRole.SizeFraction) or 0,
                SIZE_BAR,
                index.data(Qt.ItemDataRole.DisplayRole) or "",
            )
        else:
            score = index.data(QuantRole.Quality)
            colour = next(c for limit, c in QUALITY if (score or 0) >= limit)
            self._bar(
                painter,
                option,
                rect,
                score or 0,
                colour,
                index.data(QuantRole.QualityShort) or "",
                index.data(QuantRole.QualitySource) or "",
            )
        painter.restore()

    def _fit_badge(self, painter, option, index) -> None:
        verdict = index.data(QuantRole.Fit) or ""
        colours = next(
            (c for prefix, c in BADGES.items() if verdict.startswith(prefix)),
            ("#eef1f6", "#1f2430"),
        )
        # the short words ("CPU only"), coloured by the whole verdict
        paint_fit_cell(painter, option, index.data(Qt.ItemDataRole.DisplayRole) or "", colours)

    def _quant(self, painter, option, index, rect: QRect) -> None:
        bold = QFont(option.font)
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        quant = index.data(Qt.ItemDataRole.DisplayRole) or ""
        painter.setFont(bold)
        painter.setPen(_text(option))
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, quant)
        if not index.data(QuantRole.Recommended):
            return
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        small.setBold(True)
        tag_metrics = QFontMetrics(small)
        x = rect.left() + metrics.horizontalAdvance(quant) + 8
        # A narrow column (a 1024-px window) shows the star alone; the reason above the
        # table and the row's tooltip say "Recommended" in words.
        word = RECOMMENDED
        if x + tag_metrics.horizontalAdvance(word) + 14 > rect.right():
            word = "★"
        tag = QRect(
            x,
            rect.center().y() - tag_metrics.height() // 2 - 2,
            tag_metrics.horizontalAdvance(word) + 14,
            tag_metrics.height() + 4,
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(TAG_BG)
        painter.drawRoundedRect(tag, tag.height() / 2, tag.height() / 2)
        painter.setFont(small)
        painter.setPen(TAG_TEXT)
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, word)

    def _bar(
        self,
        painter,
        option,
        rect: QRect,
        fraction: float,
        colour: QColor,
        text: str,
        note: str = "",
    ) -> None:
        metrics = QFontMetrics(option.font)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1.5))
        top = rect.center().y() - (metrics.height() + 8) // 2
        track = QRect(rect.left(), top + metrics.height() + 2, rect.width(), 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(TRACK)
        painter.drawRoundedRect(track, 3, 3)
        if fraction > 0:
            painter.setBrush(colour)
            painter.drawRoundedRect(
                QRect(
                    track.left(), track.top(), max(6, int(track.width() * min(1.0, fraction))), 6
                ),
                3,
                3,
            )
        line = QRect(rect.left(), top, rect.width(), metrics.height())
        painter.setFont(option.font)
        painter.setPen(_text(option))
        painter.drawText(
            line,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()),
        )
        if note:
            painter.setFont(small)
            painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
            room = rect.width() - metrics.horizontalAdvance(text) - 10
            if room > 40:
                painter.drawText(
                    line,
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    QFontMetrics(small).elidedText(note, Qt.TextElideMode.ElideRight, room),
                )

    def narrowest_quant(self, option: QStyleOptionViewItem, quants: list[str]) -> int:
        """The quant column's narrowest width: each name whole, the tag as a star."""
        bold = QFont(option.font)
        bold.setBold(True)
        widest = max((QFontMetrics(bold).horizontalAdvance(q) for q in quants), default=0)
        return (
            widest + QFontMetrics(bold).horizontalAdvance("★") + 38
        )  # the tag: 8 + star + 14, the cell: 16

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:  # noqa: N802
        hint = super().sizeHint(option, index)
        metrics = QFontMetrics(option.font)
        column = index.column()
        width = hint.width()
        if column == QuantPickerModel.QUANT:
            bold = QFont(option.font)
            bold.setBold(True)
            width = (
                QFontMetrics(bold).horizontalAdvance(index.data(Qt.ItemDataRole.DisplayRole) or "")
                + 24
            )
            if index.data(QuantRole.Recommended):
                small = QFont(bold)
                small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
                width += QFontMetrics(small).horizontalAdvance(RECOMMENDED) + 24
        elif column == QuantPickerModel.SIZE:
            width = max(width, 110)
        elif column == QuantPickerModel.QUALITY:
            small = QFont(option.font)
            small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1.5))
            width = (
                metrics.horizontalAdvance(index.data(QuantRole.QualityShort) or "")
                + QFontMetrics(small).horizontalAdvance(index.data(QuantRole.QualitySource) or "")
                + 36
            )
            width = max(200, min(width, 270))
        elif column in (QuantPickerModel.FIT, QuantPickerModel.SPEED):
            width += 18
        return QSize(width, max(hint.height(), metrics.height() + 18))
