"""The quant picker's rows: one per quant of a model (``quant_pick.QuantRow``), sorted by size.

Columns: quant (with the Recommended tag), bits per weight, size (a bar; with the image projector
a vision model's quant downloads with, which "What it means" names), fit here (a badge),
expected quality (a bar, with its source), what the level means, and the row's own action (the
model page's Download, or "Downloaded · Chat"; set by the owner with ``set_actions``, none in My
Models). Every cell answers the same
roles (``QuantRole``), so the delegate paints from roles, never from the view.
"""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.core.common.units import format_size
from app.core.quants import explain
from app.core.quants.pick import COMFORTABLE_TOK_S, CPU, FULL, PARTIAL, TOO_LARGE, Pick, QuantRow

SLOW = QColor("#b3261e")  # under the comfortable speed (the user's setting)


def _slow(row: QuantRow, comfortable_tok_s: float) -> bool:
    return row.speed is not None and row.speed.gen_tok_s < comfortable_tok_s


SPEED_BASIS = {
    "measured": "measured: you ran this file here",
    "calibrated": "estimated, corrected by your runs of other files here",
    "estimated": "estimated from the file and this machine's memory speed",
}

Index = QModelIndex | QPersistentModelIndex

# "Fit here" in a few words, read whole in a 1024-px window ("CPU only — fits in RAM" was cut
# to "CPU only —…", issue 19); the whole verdict is the row's tooltip and under the table.
FIT_SHORT = {FULL: "Fits in GPU", PARTIAL: "Partly on GPU", CPU: "CPU only", TOO_LARGE: "Too large"}


def fit_short(row: QuantRow) -> str:
    return FIT_SHORT.get(row.placement, row.fit.verdict)


def _total(row: QuantRow) -> int:
    """What the row downloads and loads: the model, and its image projector if it has one."""
    return row.size_bytes + row.projector_bytes


def projector_words(row: QuantRow) -> str:
    """``+ image projector, 854 MB`` (a vision model's projector comes with the quant)."""
    return f"+ image projector, {format_size(row.projector_bytes)}"


def projector_short(row: QuantRow) -> str:
    """``+ projector 854 MB``: what "What it means" starts with, short enough to be read whole
    in a 1024-px window (``projector_words`` was cut to "+ image proj…"); the whole sentence
    is the row's tooltip and the line under the table."""
    return f"+ projector {format_size(row.projector_bytes)}"


class QuantRole(IntEnum):
    Key = Qt.ItemDataRole.UserRole + 1
    Quant = Qt.ItemDataRole.UserRole + 2
    Bits = Qt.ItemDataRole.UserRole + 3
    SizeBytes = Qt.ItemDataRole.UserRole + 4
    SizeFraction = Qt.ItemDataRole.UserRole + 5  # of the largest file's size, for the bar
    Fit = Qt.ItemDataRole.UserRole + 6  # the verdict text
    Placement = Qt.ItemDataRole.UserRole + 7  # quant_pick.FULL / PARTIAL / CPU / TOO_LARGE
    Quality = Qt.ItemDataRole.UserRole + 8  # 0..1 for the bar, None when unknown
    QualityWords = Qt.ItemDataRole.UserRole + 9
    QualitySource = (
        Qt.ItemDataRole.UserRole + 10
    )  # "typical (llama.cpp, Llama-3-8B)" / "measured by you"
    QualityNote = Qt.ItemDataRole.UserRole + 11  # the citation
    Kld = Qt.ItemDataRole.UserRole + 12
    Recommended = Qt.ItemDataRole.UserRole + 13
    Explanation = Qt.ItemDataRole.UserRole + 14
    MaxContext = Qt.ItemDataRole.UserRole + 15
    Speed = Qt.ItemDataRole.UserRole + 16  # generation tok/s here, None when unknown
    SpeedBasis = Qt.ItemDataRole.UserRole + 17  # "measured", "calibrated" or "estimated"
    Action = Qt.ItemDataRole.UserRole + 18  # the row's button text ("" for none)
    ActionEnabled = Qt.ItemDataRole.UserRole + 19
    QualityShort = Qt.ItemDataRole.UserRole + 20  # the verdict in a word, for the cell


HEADER_TIPS = (
    "The quant type: how the weights are stored",
    "Bits per weight of this file: its size over its parameter count (small models carry "
    "more than their type's usual figure: their embeddings are a larger share)",
    "The file's size (the bar: compared with the largest)",
    "Whether it fits this machine at the chosen context, and where it runs",
    "How fast it would write here, in tokens a second (with about 1,000 tokens of chat so "
    "far): measured when you ran this file, calibrated by your runs of other files, else "
    "estimated from the file and this machine's memory speed",
    "How close its answers are expected to stay to the original model's, and where the "
    "figure comes from",
    "What this quant level means",
    "Download this file, or chat with it once it is on this computer",
)


class QuantPickerModel(QAbstractTableModel):
    QUANT, BITS, SIZE, FIT, SPEED, QUALITY, ABOUT, ACTION = range(8)
    HEADERS = (
        "Quant",
        "Bits/\nweight",  # two lines: a narrow column (issue 19: the table scrolled sideways)
        "Size",
        "Fit here",
        "Speed\nhere",
        "Expected\nquality",
        "What it means",
        "",
    )

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[QuantRow] = []
        self._recommended: str | None = None
        self._largest = 1
        self._actions: dict[str, tuple[str, bool]] = {}  # key -> (button text, enabled)
        self.comfortable_tok_s = COMFORTABLE_TOK_S  # slower speeds are shown in SLOW
        # Why no row has a speed figure ("" when they can have one): a "—" alone said nothing.
        self.no_speeds = ""

    def set_rows(self, rows: list[QuantRow], pick: Pick | None = None) -> None:
        """New rows (a reset), or the same files with new fits and quality (dataChanged)."""
        same = [r.key for r in rows] == [r.key for r in self._rows]
        if not same:
            self.beginResetModel()
        self._rows = list(rows)
        self._recommended = pick.key if pick else None
        self._largest = max((_total(r) for r in rows), default=1) or 1
        if same:
            if rows:
                self.dataChanged.emit(
                    self.index(0, 0), self.index(len(rows) - 1, len(self.HEADERS) - 1)
                )
        else:
            self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    def set_actions(self, actions: dict[str, tuple[str, bool]]) -> None:
        """Each row's button by key: its text and whether it can be pressed."""
        if actions != self._actions:
            self._actions = dict(actions)
            if self._rows:
                self.dataChanged.emit(
                    self.index(0, self.ACTION), self.index(len(self._rows) - 1, self.ACTION)
                )

    def row_of(self, key: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r.key == key), -1)

    def rows(self) -> list[QuantRow]:
        return list(self._rows)

    def entry(self, row: int) -> QuantRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def recommended(self) -> QuantRow | None:
        return self.entry(self.row_of(self._recommended)) if self._recommended else None

    # -- Qt --------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,  # noqa: N802
        role: int = Qt.ItemDataRole.DisplayRole,
    ):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == self.SPEED and row.speed is None:
                return f"No speed figure: {self.speed_missing(row)}."
            return self._tooltip(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (self.BITS, self.SPEED):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and index.column() == self.SPEED
            and _slow(row, self.comfortable_tok_s)
        ):
            return SLOW
        return self._role(row, role)

    def _role(self, row: QuantRow, role: int):
        q = row.quality
        values: dict[int, object] = {
            QuantRole.Key: row.key,
            QuantRole.Quant: row.quant,
            QuantRole.Bits: row.bits,
            QuantRole.SizeBytes: _total(row),
            QuantRole.SizeFraction: _total(row) / self._largest,
            QuantRole.Fit: row.fit.verdict,
            QuantRole.Placement: row.placement,
            QuantRole.Quality: explain.quality_score(q.kld) if q else None,
            QuantRole.QualityWords: explain.quality_words(q.kld if q else None),
            QuantRole.QualityShort: explain.quality_short(q.kld if q else None),
            QuantRole.QualitySource: q.label if q else "",
            QuantRole.QualityNote: q.note if q else "",
            QuantRole.Kld: q.kld if q else None,
            QuantRole.Recommended: row.key == self._recommended,
            QuantRole.Explanation: row.explanation,
            QuantRole.MaxContext: row.fit.max_ctx,
            QuantRole.Speed: row.speed.gen_tok_s if row.speed else None,
            QuantRole.SpeedBasis: row.speed.basis if row.speed else "",
            QuantRole.Action: self._actions.get(row.key, ("", False))[0],
            QuantRole.ActionEnabled: self._actions.get(row.key, ("", False))[1],
        }
        return values.get(role)

    def _display(self, row: QuantRow, column: int):
        if column == self.QUANT:
            return row.quant
        if column == self.BITS:
            return f"{row.bits:.1f}" if row.bits else "—"
        if column == self.SIZE:
            return format_size(_total(row))
        if column == self.FIT:
            return fit_short(row)
        if column == self.SPEED:
            return row.speed.short if row.speed else "—"
        if column == self.QUALITY:
            q = row.quality
            return f"{explain.quality_short(q.kld)} · {q.label}" if q else "unknown"
        if column == self.ABOUT:  # the words; the bits per weight are in the tooltip
            words = row.explanation.split(": ", 1)[-1]
            return f"{projector_short(row)} · {words}" if row.projector_bytes else words
        if column == self.ACTION:
            return self._actions.get(row.key, ("", False))[0]
        return None

    def speed_missing(self, row: QuantRow) -> str:
        """Why ``row`` has no speed figure, in words a user can act on."""
        if row.placement == TOO_LARGE:
            return "it does not fit this machine at this context"
        if self.no_speeds:
            return self.no_speeds
        return "part of it would run on a GPU whose speed Hearth does not know"

    def _tooltip(self, row: QuantRow) -> str:
        lines = [row.explanation]
        bits = explain.bits_words(row.quant, row.bits)
        if bits:
            lines.append(bits[0].upper() + bits[1:] + ".")
        if row.quality is not None:
            lines.append(
                f"Expected quality: {explain.quality_words(row.quality.kld)}, "
                f"mean KL divergence from the original {row.quality.kld:.4f} "
                f"({row.quality.label})."
            )
            lines.append(row.quality.note + ".")
        lines.append(f"Fit here: {row.fit.verdict}.")
        if row.fit.max_ctx:
            lines.append(f"Fits here with up to {row.fit.max_ctx:,} tokens of context.")
        if row.speed is not None:
            lines.append(
                f"Speed here: about {row.speed.gen_tok_s:,.1f} tokens a second writing, "
                f"{row.speed.prompt_tok_s:,.0f} reading a prompt ({SPEED_BASIS[row.speed.basis]})."
            )
        else:
            lines.append(f"No speed figure here: {self.speed_missing(row)}.")
        if row.projector_bytes:
            lines.append(
                f"Downloads with its image projector ({format_size(row.projector_bytes)}), "
                f"counted in the size ({format_size(row.size_bytes)} for the model alone) and "
                "the fit."
            )
        lines.append(row.label)
        return "\n".join(lines)
