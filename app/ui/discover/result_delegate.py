"""Paints one Hub search result: name and counts, author and dates, then tag chips.

    Qwen3-4B-GGUF                                        ⬇ 12.3k   ♥ 45
    by bartowski · updated 3 days ago · ~1.3–4.3 GB
    [qwen3] [4.0B] [3 quants]                   [Fits in RAM · from its file header]

The fit badge (with "Fits this machine") says what its estimate rests on (``hub_fit``). A LoRA
adapter repo (tagged ``base_model:adapter:ORG/NAME``) has a "LoRA adapter" chip, its base model
on the second line, and no sizes nor fit badge: it cannot chat on its own.

    SmolLM2-135M-Style-LoRA-GGUF                                 ⬇ 12    ♥ 0
    by someone · updated 3 days ago · for HuggingFaceTB/SmolLM2-135M-Instruct
    [LoRA adapter]
No widget per row: everything is drawn from the model's roles. Also the model page's files
table cells: the fit badge (``FitDelegate``); its Download buttons are ``common.button_delegate``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from app.core.hub.fit import FIT_UNKNOWN
from app.ui.discover.results_model import ADAPTER_TAG, FileRole, Role

ROW_HEIGHT = 76
MIN_WIDTH = 300
PAD_X, PAD_Y = 12, 8
TEXT = QColor("#1f2430")
CHIP_BG = QColor("#eef1f6")
CHIP_GATED = QColor("#fff4d6")
CHIP_ADAPTER = QColor("#ece6fb")  # violet: an adapter, told apart from a model at a glance
UNKNOWN_COLOURS = (QColor("#e4e7ee"), QColor("#3d4556"))  # grey: neither fits nor too large


@dataclass(frozen=True)
class _Unknown:
    label: str = FIT_UNKNOWN
    fits: bool = True


UNKNOWN = _Unknown()
_CHIP_COLOURS = {"gated": CHIP_GATED, ADAPTER_TAG: CHIP_ADAPTER}
FIT_COLOURS = {
    True: (QColor("#e3f5e8"), QColor("#1b6e35")),  # fits: green; too large: red
    False: (QColor("#fdecea"), QColor("#b3261e")),
}


def short_count(n: int) -> str:
    """12345 -> 12.3k, 412000 -> 412k, 2_400_000 -> 2.4M."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 100_000:
        return f"{n // 1_000}k"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return str(n)


class HubResultDelegate(QStyledItemDelegate):
    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        # Narrower than any list: the list gives each row its viewport's width. The width of
        # option.rect (the list before its scrollbar showed) made rows wider than the list, so
        # the likes were cut by the scrollbar and a horizontal scrollbar appeared (issue 19).
        return QSize(MIN_WIDTH, ROW_HEIGHT)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawPrimitive(
            QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget
        )
        rect = option.rect.adjusted(PAD_X, PAD_Y, -PAD_X, -PAD_Y)
        base = QFont(option.font)
        bold = QFont(base)
        bold.setBold(True)
        bold.setPointSizeF(base.pointSizeF() + 1.5)
        small = QFont(base)
        small.setPointSizeF(max(7.0, base.pointSizeF() - 1))

        repo = index.data(Role.Id) or ""
        counts = (
            f"⬇ {short_count(index.data(Role.Downloads) or 0)}    "
            f"♥ {short_count(index.data(Role.Likes) or 0)}"
        )
        painter.setFont(base)
        counts_width = QFontMetrics(base).horizontalAdvance(counts) + 4
        line1 = QRect(rect.left(), rect.top(), rect.width(), QFontMetrics(bold).height())
        # Text colours from the theme's palette (app/ui/theme.py; the same as before in the light
        # one): fixed dark text was unreadable on the dark theme's list.
        text, muted = (
            option.palette.color(QPalette.ColorRole.Text),
            option.palette.color(QPalette.ColorRole.PlaceholderText),
        )
        painter.setPen(muted)
        painter.drawText(line1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, counts)

        painter.setFont(bold)
        painter.setPen(text)
        name = repo.split("/", 1)[-1]
        name_rect = line1.adjusted(0, 0, -counts_width - 8, 0)
        painter.drawText(
            name_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(bold).elidedText(name, Qt.TextElideMode.ElideRight, name_rect.width()),
        )

        parts = [f"by {index.data(Role.Author) or repo.split('/')[0]}"]
        if updated := index.data(Role.Updated):
            parts.append(f"updated {updated}")
        if size := index.data(Role.SizeRange):
            parts.append(size)
        base_model = index.data(Role.AdapterOf)
        if base_model is not None:
            parts.append(f"for {base_model}" if base_model else "base model unknown")
        painter.setFont(base)
        painter.setPen(muted)
        line2 = QRect(rect.left(), line1.bottom() + 3, rect.width(), QFontMetrics(base).height())
        painter.drawText(
            line2,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(base).elidedText(
                "  ·  ".join(parts), Qt.TextElideMode.ElideRight, line2.width()
            ),
        )
        badge = index.data(Role.Fit)
        if badge is None and index.data(Role.FitUnknown):
            badge = UNKNOWN
        chips = QRect(rect)
        if badge is not None:
            chips.setRight(self._fit_badge(painter, small, badge, rect, line2.bottom() + 5) - 8)
        self._chips(painter, small, index.data(Role.Tags) or [], chips, line2.bottom() + 5)
        painter.setPen(option.palette.color(QPalette.ColorRole.Shadow))
        painter.drawLine(option.rect.bottomLeft(), option.rect.bottomRight())
        painter.restore()

    def _fit_badge(self, painter: QPainter, font: QFont, badge, rect: QRect, top: int) -> int:
        """The fit badge, right-aligned: ``Fits in RAM · from its parameter count``; returns
        its left edge."""
        metrics = QFontMetrics(font)
        text = metrics.elidedText(badge.label, Qt.TextElideMode.ElideRight, rect.width() // 2)
        width, height = metrics.horizontalAdvance(text) + 16, metrics.height() + 4
        chip = QRect(rect.right() - width, top, width, height)
        background, colour = FIT_COLOURS[badge.fits] if badge is not UNKNOWN else UNKNOWN_COLOURS
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.drawRoundedRect(chip, height / 2, height / 2)
        painter.setPen(colour)
        painter.setFont(font)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
        return chip.left()

    def _chips(
        self, painter: QPainter, font: QFont, tags: list[str], rect: QRect, top: int
    ) -> None:
        metrics = QFontMetrics(font)
        painter.setFont(font)
        x = rect.left()
        height = metrics.height() + 4
        for tag in tags:
            width = metrics.horizontalAdvance(tag) + 14
            if x + width > rect.right():
                break
            chip = QRect(x, top, width, height)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_CHIP_COLOURS.get(tag, CHIP_BG))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.drawRoundedRect(chip, height / 2, height / 2)
            painter.setPen(TEXT)  # chips are light in both themes
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, tag)
            x += width + 6


# -- the model page's files table ------------------------------------------------------------------

_BADGES = {  # verdict prefix -> (background, text)
    "Full GPU": ("#e3f5e8", "#1b6e35"),
    "Partial": ("#e5efff", "#1d4ed8"),
    "CPU only": ("#fff4d6", "#6b4e00"),
    "Too large": ("#fdecea", "#b3261e"),
}


def paint_fit_cell(
    painter: QPainter, option: QStyleOptionViewItem, verdict: str, colours: tuple[str, str]
) -> None:
    """A table cell holding the fit verdict as a rounded badge (background, text colours)."""
    painter.save()
    style = option.widget.style() if option.widget else QApplication.style()
    style.drawPrimitive(
        QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget
    )
    metrics = QFontMetrics(option.font)
    text = metrics.elidedText(verdict, Qt.TextElideMode.ElideRight, option.rect.width() - 20)
    width = min(option.rect.width() - 8, metrics.horizontalAdvance(text) + 16)
    badge = QRect(
        option.rect.left() + 4,
        option.rect.center().y() - metrics.height() // 2 - 2,
        width,
        metrics.height() + 4,
    )
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colours[0]))
    painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
    painter.setPen(QColor(colours[1]))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()


class FitDelegate(QStyledItemDelegate):
    """The fit verdict as a coloured badge (green: all on GPU ... red: too large)."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        verdict = index.data(FileRole.Fit) or ""
        colours = next((c for prefix, c in _BADGES.items() if verdict.startswith(prefix)), None)
        if colours is None:
            super().paint(painter, option, index)
            return
        paint_fit_cell(painter, option, verdict, colours)

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 24, hint.height())
