"""``ColumnFitter``: a table's columns sized to their contents and kept inside its width.

Qt's ResizeToContents sizes each column to its widest cell and lets the total pass the view,
which then scrolls sideways: the quant picker needed a horizontal scrollbar even in a 1366-px
window and the downloads panel in a 1024-px one (issue 19). Here the columns that must be
read whole (a quant, a size, a button) keep their content width; the "elastic" ones (long
words) share what is left, narrowed down to a floor when room is short, their text elided by
the delegate and whole in the cell's tooltip. Extra room goes to the last elastic column.
The "first" elastic columns (My Models' name) are served before the others, and the optional
ones step aside for them: a name was cut to "SmolLM2-1…-Instruct" beside a roomy Architecture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QHeaderView, QTableView

FLOOR = 70  # px: the narrowest an elastic column gets ("indistingu…" still says something)


class ColumnFitter(QObject):
    """Keeps ``table``'s visible columns within its viewport; ``elastic`` columns give way."""

    def __init__(
        self,
        table: QTableView,
        elastic: Sequence[int],
        floor: int = FLOOR,
        floors: Mapping[int, Callable[[], int]] | None = None,
        optional: Sequence[int] = (),
        first: Sequence[int] = (),
    ) -> None:
        """``floors``: for some elastic columns, their own narrowest width (asked at each fit:
        it may depend on the rows), in place of ``floor``. ``optional``: columns hidden, in
        this order, while the others cannot have their floors beside them (what they say is
        shown elsewhere too). ``first``: elastic columns served first, in this order (the
        one the user reads, a model's name): whole while the other elastic columns can give
        way to their floors, and the optional ones step aside for them."""
        super().__init__(table)
        self.table, self.elastic, self.floor = table, list(elastic), floor
        self.floors = dict(floors or {})
        self.optional = list(optional)
        self.first = list(first)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setMinimumSectionSize(24)
        self._timer = QTimer(self, singleShot=True, interval=0)  # one fit per event-loop turn
        self._timer.timeout.connect(self.fit)
        table.viewport().installEventFilter(self)
        model = table.model()
        for signal in (
            model.modelReset,
            model.rowsInserted,
            model.rowsRemoved,
            model.dataChanged,
            model.layoutChanged,
            header.sectionCountChanged,
        ):
            signal.connect(self._later)
        self._timer.start()

    def _later(self, *_args) -> None:
        """Fit once the model's change is laid out (signals of any arguments land here)."""
        self._timer.start()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return super().eventFilter(watched, event)

    def wanted(self, column: int) -> int:
        """The column's content width: its widest cell or its header."""
        header = self.table.horizontalHeader()
        return max(header.sectionSizeHint(column), self.table.sizeHintForColumn(column))

    @Slot()
    def fit(self) -> None:
        table, header = self.table, self.table.horizontalHeader()
        for column in self.optional:
            if header.isSectionHidden(column):
                header.showSection(column)  # back when there is room for it
        shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
        if not shown:
            return
        wanted = {c: self.wanted(c) for c in shown}
        floors = {
            c: min(self.floors[c]() if c in self.floors else self.floor, wanted[c])
            for c in shown
            if c in self.elastic
        }
        room = table.viewport().width()
        # what must be beside the others' floors: the ``first`` columns whole
        least = {c: wanted[c] if c in self.first else floors.get(c, wanted[c]) for c in shown}
        for column in self.optional:  # the least needed first, while the rest cannot fit
            if sum(least[c] for c in shown) <= room:
                break
            if column in shown:
                header.hideSection(column)
                shown.remove(column)
                floors.pop(column, None)
        fixed = sum(wanted[c] for c in shown if c not in floors)
        elastic = [c for c in shown if c in floors]
        left = room - fixed
        widths = dict(wanted)
        need = sum(wanted[c] for c in elastic)
        if elastic and need > left:
            # The ``first`` columns served first, as wide as they want while the others keep
            # their floors; then an equal share each, the narrow ones whole (a short source is
            # not cut to make a long path a little longer), none below its floor.
            remaining = left
            rest = [c for c in elastic if c not in self.first]
            served = [c for c in self.first if c in floors]
            for i, c in enumerate(served):
                kept = remaining - sum(floors[x] for x in rest + served[i + 1 :])
                widths[c] = max(floors[c], min(wanted[c], kept))
                remaining -= widths[c]
            by_want = sorted(rest, key=lambda c: wanted[c])
            for i, c in enumerate(by_want):
                share = remaining // (len(by_want) - i)
                kept = remaining - sum(floors[x] for x in by_want[i + 1 :])  # the others' floors
                widths[c] = max(floors[c], min(wanted[c], share, kept))
                remaining -= widths[c]
        elif elastic:  # room to spare: the last elastic column takes it
            widths[elastic[-1]] += left - need
        for c in shown:
            if header.sectionSize(c) != widths[c]:
                header.resizeSection(c, widths[c])
