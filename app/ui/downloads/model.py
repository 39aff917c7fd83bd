"""Downloads as a Qt table model: one row per download, keyed by ``repo_id/filename``.

Rows change only through :meth:`DownloadsModel.update` (``{role: value}``), which emits
``dataChanged`` for the row. Views read the columns (file, repo, state, progress, speed, ETA,
message) or the roles; the progress column is drawn as a bar by the panel's delegate.
"""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from app.core.common.units import format_size

Index = QModelIndex | QPersistentModelIndex

STATES = ("queued", "downloading", "paused", "verifying", "done", "failed")
_STATE_LABELS = {
    "queued": "Queued",
    "downloading": "Downloading",
    "paused": "Paused",
    "verifying": "Verifying",
    "done": "Ready",
    "failed": "Failed",
}


class Role(IntEnum):
    Key = int(Qt.ItemDataRole.UserRole) + 1
    Repo = Key + 1
    File = Key + 2
    State = Key + 3
    Done = Key + 4  # bytes
    Total = Key + 5  # bytes
    Speed = Key + 6  # bytes per second
    Eta = Key + 7  # seconds, or None
    Message = Key + 8
    Path = Key + 9  # the model file, once ready


_ROLES = frozenset(int(role) for role in Role)
COLUMNS = ("File", "Repository", "State", "Progress", "Speed", "Time left", "Message")
PROGRESS_COLUMN = COLUMNS.index("Progress")


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class DownloadsModel(QAbstractTableModel):
    """The download list. Plain data per row; no widgets, no threads."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[dict[Role, object]] = []

    # -- changes --------------------------------------------------------------------------------

    def add(
        self,
        key: str,
        repo_id: str,
        filename: str,
        state: str = "queued",
        *,
        done: int = 0,
        total: int = 0,
    ) -> None:
        """Add a row; for a key already listed, only clear its message."""
        if self.row_of(key) is not None:
            self.update(key, {Role.Message: ""})
            return
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(
            {
                Role.Key: key,
                Role.Repo: repo_id,
                Role.File: filename,
                Role.State: state,
                Role.Done: done,
                Role.Total: total,
                Role.Speed: 0.0,
                Role.Message: "",
                Role.Path: "",
            }
        )
        self.endInsertRows()

    def update(self, key: str, values: dict[Role, object]) -> None:
        """Change some roles of one row and tell the views."""
        row = self.row_of(key)
        if row is None:
            return
        current = self._rows[row]
        changed = {role: value for role, value in values.items() if current.get(role) != value}
        if not changed:
            return
        self._rows[row].update(changed)
        roles = [int(r) for r in changed] + [
            int(Role.Eta),
            int(Qt.ItemDataRole.DisplayRole),
            int(Qt.ItemDataRole.ToolTipRole),
        ]
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1), roles)

    def remove(self, key: str) -> None:
        row = self.row_of(key)
        if row is not None:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()

    # -- reading --------------------------------------------------------------------------------

    def row_of(self, key: str) -> int | None:
        return next((i for i, row in enumerate(self._rows) if row[Role.Key] == key), None)

    def value(self, key: str, role: Role):
        row = self.row_of(key)
        return None if row is None else self.data(self.index(row, 0), role)

    def keys(self) -> list[str]:
        return [str(row[Role.Key]) for row in self._rows]

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = {int(role): QByteArray(role.name.lower().encode()) for role in Role}
        return {**super().roleNames(), **names}

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Role.Eta:
            return self._eta(row)
        if role in _ROLES:
            return row.get(Role(role))
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            return row[Role.Message] or f"{row[Role.Repo]}/{row[Role.File]}"
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (PROGRESS_COLUMN, 4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _eta(row: dict) -> float | None:
        speed, left = row[Role.Speed], row[Role.Total] - row[Role.Done]
        return left / speed if row[Role.State] == "downloading" and speed > 0 and left > 0 else None

    def _display(self, row: dict, column: int) -> str:
        state, done, total = row[Role.State], row[Role.Done], row[Role.Total]
        if column == 0:
            return row[Role.File]
        if column == 1:
            return row[Role.Repo]
        if column == 2:
            return _STATE_LABELS.get(state, state)
        if column == PROGRESS_COLUMN:
            return f"{format_size(done)} / {format_size(total)}" if total else format_size(done)
        if column == 4:
            speed = row[Role.Speed] if state == "downloading" else 0
            return f"{format_size(speed)}/s" if speed else ""
        if column == 5:
            return format_eta(self._eta(row))
        return row[Role.Message]
