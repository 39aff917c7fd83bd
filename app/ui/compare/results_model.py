"""Measured results as a Qt table model: one row per file and text, reference first.

Rows are ``FileMeasurement`` values from ``app.core.measure.measurement``; ``set_comparisons`` replaces
them. Rows read from the measurement store carry ``cached`` and are marked "stored" in the
Measured column. The Answers column says each file's closeness in words (``explain.verdict``);
the raw figures (``FIGURES``) are one click away, behind the view's "Show the figures". Sizes
and memory in decimal units, as everywhere in Hearth. ``write_csv`` writes the raw numbers.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt

from app.core.common.units import format_size
from app.core.gguf import quant_types
from app.core.measure.measurement import Comparison, FileMeasurement
from app.core.quants import explain
from app.ui.compare.row_table import RowTableModel

RowRole = Qt.ItemDataRole.UserRole + 1  # the FileMeasurement
SortRole = Qt.ItemDataRole.UserRole + 2  # numbers for numeric columns, lower-case text otherwise

COLUMNS = (
    "File",
    "Quant",
    "Answers",
    "Size",
    "Bits/weight",
    "Perplexity",
    "KL divergence",
    "Same top %",
    "Prompt tok/s",
    "Gen. tok/s",
    "Load time",
    "Memory",
    "Text",
    "Measured",
)
ORIGINALS = ("F16", "BF16", "F32")  # files that hold the original weights
# Behind "Show the figures": the verdict in words leads.
FIGURES = ("Bits/weight", "Perplexity", "KL divergence", "Same top %", "Prompt tok/s", "Load time")
# Two-line headers keep the table narrow enough for the file names.
HEADERS = {
    "Bits/weight": "Bits per\nweight",
    "KL divergence": "KL\ndivergence",
    "Same top %": "Same\ntop %",
    "Prompt tok/s": "Prompt\ntok/s",
    "Gen. tok/s": "Generation\ntok/s",
    "Load time": "Load\ntime",
}
_NUMERIC = {
    "Size",
    "Bits/weight",
    "Perplexity",
    "KL divergence",
    "Same top %",
    "Prompt tok/s",
    "Gen. tok/s",
    "Load time",
    "Memory",
}
# CSV: the raw figures, in plain units a spreadsheet can plot.
CSV_FIELDS = (
    "name",
    "quant",
    "size_bytes",
    "bits_per_weight",
    "ppl",
    "kld",
    "same_top_pct",
    "prompt_tok_s",
    "tok_s",
    "load_s",
    "memory_bytes",
    "reference",
    "text",
    "tokens",
    "threads",
    "cached",
    "file",
    "reference_file",
)


def _number(row: FileMeasurement, column: str) -> float:
    return {
        "Size": row.size_bytes,
        "Bits/weight": row.bits_per_weight,
        "Perplexity": row.ppl,
        "KL divergence": row.kld,
        "Same top %": row.same_top_pct,
        "Prompt tok/s": row.prompt_tok_s,
        "Gen. tok/s": row.tok_s,
        "Load time": row.load_s,
        "Memory": row.memory_bytes,
    }[column]


def _fixed(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


def shared_start(names: list[str]) -> str:
    """The start all names share, cut after a separator: "Model-7B-" of "Model-7B-Q4_0.gguf"
    and "Model-7B-Q8_0.gguf"; "" for one name or names that share nothing."""
    if len(names) < 2:
        return ""
    common = os.path.commonprefix(names)
    cut = max(common.rfind(c) for c in "-._ ")
    return common[: cut + 1] if cut > 0 else ""


def _answers(row: FileMeasurement) -> str:
    """The verdict in words, against "the original" only when the reference file is one (F16,
    BF16, F32); measured against a Q8_0 it says "the reference", which the summary names."""
    if row.reference:
        return explain.REFERENCE
    words = explain.verdict(row.kld, row.same_top_pct)
    against = quant_types.quant_from_name(Path(row.reference_file).name)
    return words if against in ORIGINALS else words.replace("the original", "the reference")


def cell_text(row: FileMeasurement, column: str, prefix: str = "") -> str:
    if column == "File":
        return "…" + row.name[len(prefix) :] if prefix else row.name
    if column == "Quant":
        return row.quant or "?"
    if column == "Answers":
        return _answers(row)
    if column == "Size":
        return format_size(row.size_bytes)
    if column == "Bits/weight":
        return _fixed(row.bits_per_weight, 2)
    if column == "Perplexity":
        return _fixed(row.ppl, 3)
    if column == "KL divergence":
        return "reference" if row.reference else _fixed(row.kld, 4)
    if column == "Same top %":
        return _fixed(row.same_top_pct, 1)
    if column == "Prompt tok/s":
        return _fixed(row.prompt_tok_s, 0)
    if column == "Gen. tok/s":
        return _fixed(row.tok_s, 1)
    if column == "Load time":
        return f"{_fixed(row.load_s, 2)} s"
    if column == "Memory":
        return format_size(row.memory_bytes)
    if column == "Text":
        return "Bundled text" if row.text == "bundled" else row.text
    return "stored" if row.cached else "now"


class ResultsModel(RowTableModel):
    columns = COLUMNS

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[FileMeasurement] = []
        self.prefix = ""  # the start every file name shares, not repeated in the File column

    def set_comparisons(self, comparisons: Sequence[Comparison]) -> None:
        self.beginResetModel()
        self._rows = [row for comparison in comparisons for row in comparison.rows]
        self.prefix = shared_start(list(dict.fromkeys(r.name for r in self._rows)))
        self.endResetModel()

    def texts(self) -> list[str]:
        """The texts the rows were measured on, in order."""
        return list(dict.fromkeys(row.text for row in self._rows))

    def clear(self) -> None:
        self.set_comparisons(())

    def rows(self) -> list[FileMeasurement]:
        return list(self._rows)

    def column(self, name: str) -> int:
        return COLUMNS.index(name)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.DisplayRole:
                return HEADERS.get(COLUMNS[section], COLUMNS[section])
            if role == Qt.ToolTipRole:
                return _HEADER_TIPS.get(COLUMNS[section])
        return None

    def cell(self, row: FileMeasurement, column: str, role: int):
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(row, column, self.prefix)
        if role == RowRole:
            return row
        if role == SortRole:
            return (
                float(_number(row, column))
                if column in _NUMERIC
                else cell_text(row, column, self.prefix).lower()
            )
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == "Measured":
                return (
                    "Read from earlier measurements: not measured again"
                    if row.cached
                    else "Measured just now"
                )
            if column == "KL divergence":
                return f"Against {Path(row.reference_file).name}"
            if column == "Answers":  # whole where the cell cuts it
                return cell_text(row, column, self.prefix)
            return row.file if column == "File" else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def write_csv(self, path: Path) -> None:
        """The rows as CSV: raw figures (bytes, seconds, tokens/s), one line per file."""
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(CSV_FIELDS)
            for row in self._rows:
                data = row.to_json()
                writer.writerow([_csv_value(data[f]) for f in CSV_FIELDS])


def _csv_value(value):
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else ""
    return value


_HEADER_TIPS = {
    "Answers": "How close each file's answers stay to the reference file's, in words "
    '(its figures: "Show the figures")',
    "Perplexity": "How surprised the model is by the text: lower is better",
    "KL divergence": "How far each file's predictions are from the reference file's: "
    "lower means answers closer to the original",
    "Same top %": "How often the most likely next word is the reference's",
    "Bits/weight": "File size per parameter",
    "Memory": "Memory llama.cpp takes for the file: its weights, and the KV cache and "
    "buffers of the measuring context",
    "Prompt tok/s": "Tokens per second reading a prompt (the text measured)",
    "Gen. tok/s": "Tokens per second writing an answer",
    "Measured": '"stored": read from earlier measurements, not measured again',
}
