"""The Chat picker's rows as a Qt list model: local models, then each connection's models.

A connection gives a heading row (not selectable) that says when its models are being listed or
why they could not be; its models follow as "Connection · model". The last row is the
"Manage connections..." action.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.inference.model_choice import ConnectionModels, ModelChoice
from app.core.inference.remote import Connection

ChoiceRole = Qt.ItemDataRole.UserRole + 1  # the ModelChoice, None for headings and the action
KeyRole = Qt.ItemDataRole.UserRole + 2  # ModelChoice.key, "" otherwise
KindRole = Qt.ItemDataRole.UserRole + 3  # "local", "remote", "heading" or "manage"
PathRole = Qt.ItemDataRole.UserRole + 4  # the file of a local model, "" otherwise

MANAGE_LABEL = "Manage connections..."
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class _Row:
    kind: str
    text: str
    choice: ModelChoice | None = None
    tooltip: str = ""


class ModelChoiceModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._local: list[ModelChoice] = []
        self._remote: dict[str, ConnectionModels | Connection] = {}  # Connection: listing
        self._rows: list[_Row] = [_Row("manage", MANAGE_LABEL)]

    # -- contents ---------------------------------------------------------------------------
    def set_local(self, choices: list[ModelChoice]) -> None:
        self._local = list(choices)
        self._rebuild()

    def set_connections(self, connections: list[Connection]) -> None:
        """Show these connections as being listed (their models come with ``set_listed``)."""
        self._remote = {c.name: c for c in connections}
        self._rebuild()

    def set_listed(self, listed: ConnectionModels) -> None:
        if listed.connection.name in self._remote:
            self._remote[listed.connection.name] = listed
            self._rebuild()

    def local_count(self) -> int:
        return len(self._local)

    def choices(self) -> list[ModelChoice]:
        return [r.choice for r in self._rows if r.choice is not None]

    def row_of(self, key: str) -> int:
        return next(
            (i for i, r in enumerate(self._rows) if r.choice is not None and r.choice.key == key),
            -1,
        )

    def _rebuild(self) -> None:
        rows = [_Row("local", c.label, c, c.path) for c in self._local]
        for name, state in self._remote.items():
            if isinstance(state, Connection):
                rows.append(_Row("heading", f"{name}: listing models...", None, state.base_url))
            elif state.error:
                rows.append(_Row("heading", f"{name}: not available", None, state.error))
            else:
                note = "" if state.choices else ": no models"
                rows.append(_Row("heading", f"{name}{note}", None, state.connection.base_url))
                rows.extend(_Row("remote", c.label, c, c.model) for c in state.choices)
        rows.append(_Row("manage", MANAGE_LABEL, None, "Add, edit or test remote servers"))
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    # -- Qt ---------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if self._rows[index.row()].kind == "heading":
            return Qt.ItemFlag.NoItemFlags  # shown greyed, cannot be chosen
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows) or index.column() != 0:
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tooltip or None
        if role == ChoiceRole:
            return row.choice
        if role == KeyRole:
            return row.choice.key if row.choice else ""
        if role == KindRole:
            return row.kind
        if role == PathRole:
            return row.choice.path if row.choice else ""
        return None
