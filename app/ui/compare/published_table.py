"""The published typical figures per quant type, as a read-only table."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.gguf.quant_types import bits_per_weight
from app.core.quants import quality


class PublishedTable(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        table = quality.load_published()
        self.table = QTableWidget(len(table), 5)
        self.table.setHorizontalHeaderLabels(
            ["Quant", "Bits per weight", "Size (8B model)", "Perplexity", "Mean KL divergence"]
        )
        for row, q in enumerate(table.values()):
            bpw = bits_per_weight(q.quant)
            cells = (
                q.quant,
                f"{bpw:.2f}" if bpw else "",
                f"{q.size_gib:.2f} GiB",
                f"{q.ppl:.4f}",
                "reference" if q.mean_kld is None else f"{q.mean_kld:.5f}",
            )
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.addWidget(
            QLabel(
                "Typical quality per quant type: lower KL divergence means "
                "answers closer to the original model.",
                objectName="hint",
            )
        )
        layout.addWidget(self.table, 1)
        layout.addWidget(QLabel(f"Source: {quality.SOURCE}", objectName="hint", wordWrap=True))
