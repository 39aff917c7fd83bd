"""The arena's standings as a Qt table model: one row per quant, best rating first."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.core.compare.arena import Standing
from app.ui.compare.row_table import RowTableModel

StandingRole = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Quant", "Wins", "Losses", "Ties", "Rating")
_NUMBERS = {"Wins", "Losses", "Ties", "Rating"}


class StandingsModel(RowTableModel):
    columns = COLUMNS

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[Standing] = []

    def set_standings(self, standings: list[Standing]) -> None:
        self.beginResetModel()
        self._rows = list(standings)
        self.endResetModel()

    def standings(self) -> list[Standing]:
        return list(self._rows)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def cell(self, row: Standing, column: str, role: int):
        if role == StandingRole:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                "Quant": row.label,
                "Wins": str(row.wins),
                "Losses": str(row.losses),
                "Ties": str(row.ties),
                "Rating": f"{row.rating:.0f}",
            }[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == "Rating":
            return (
                "Elo-style rating: everyone starts at 1000; beating a higher rated quant "
                "gains more."
            )
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMBERS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
