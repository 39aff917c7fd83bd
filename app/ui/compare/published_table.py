"""The published typical figures per quant type, as a read-only table: a plain verdict and
the size an 8B model has at each type first, the raw figures behind "Show the figures"."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.common.units import format_size
from app.core.gguf.quant_types import typical_bits
from app.core.quants import explain, quality
from app.ui.compare.figures_toggle import figures_toggle

HEADERS = (
    "Quant",
    "Answers",
    "Size of an 8B model",
    "Bits per weight",
    "KL divergence",
    "Perplexity",
    "Same top %",
)
# Behind "Show the figures": for an 8B model the bits per weight nearly repeat its size in GB.
FIGURES = (3, 4, 5, 6)


class PublishedTable(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        table = quality.load_published()
        self.table = QTableWidget(len(table), len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        for row, q in enumerate(table.values()):
            bits = typical_bits(q.quant)  # the one "usual for the type" figure of the app
            cells = (
                q.quant,
                explain.REFERENCE
                if q.mean_kld is None
                else explain.verdict(q.mean_kld, q.same_top_pct),
                format_size(q.size_gib * 2**30),
                f"{bits:.1f}" if bits else "",
                "reference" if q.mean_kld is None else f"{q.mean_kld:.5f}",
                f"{q.ppl:.4f}",
                "" if q.same_top_pct is None else f"{q.same_top_pct:.1f}",
            )
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.show_figures = figures_toggle(self.table, lambda: list(FIGURES))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.addWidget(
            QLabel(
                "What each quant type usually does to a model's answers, from "
                f"{quality.PLAIN_SOURCE}.",
                objectName="hint",
                wordWrap=True,
            )
        )
        layout.addWidget(self.table, 1)
        layout.addWidget(self.show_figures)
        layout.addWidget(QLabel(f"Source: {quality.SOURCE}", objectName="hint", wordWrap=True))
