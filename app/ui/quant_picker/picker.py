"""The quant picker view: every quant of one model, its fit here at the chosen context, its
expected quality, and the one Hearth recommends, with why.

Rows come from a loader run off the GUI thread (a Hub repo's files with a Range-read header, or
a local family of files with their own headers and stored measurements); changing the context
re-computes the fits off the GUI thread too, from the shapes already read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.common.errors import HearthError
from app.core.fit.machine_info import MachineInfo
from app.core.quants import explain, pick, quality
from app.core.quants.pick import COMFORTABLE_TOK_S, QuantItem
from app.ui.common.button_delegate import ButtonDelegate
from app.ui.common.columns import FLOOR, ColumnFitter
from app.ui.common.tasks import TaskHandle, run_task
from app.ui.quant_picker.delegate import QuantPickerDelegate
from app.ui.quant_picker.model import (
    QuantPickerModel,
    QuantRole,
    fit_short,
    projector_short,
    projector_words,
)

log = logging.getLogger("hearth.ui.quant_picker")

SOURCES = (
    f"Quality: “typical for this type” comes from {quality.PLAIN_SOURCE}; “measured by you” "
    "from your own measurement of that file on the Compare page. "
    "Speed: tokens a second writing, estimated from the file and this machine's measured "
    "memory speed; your own chats correct it (“~” marks an estimate). "
    "Bits per weight: the file's size over its parameters. "
    f"Source of the typical figures: {quality.SOURCE}."
)
DEFAULT_CTX = 8192

Loader = Callable[[], list[QuantItem]]


class QuantPicker(QWidget):
    ready = Signal()  # rows and the recommendation are shown
    failed = Signal(str)
    recommended_changed = Signal(str)  # the recommended file's key ("" for none)
    chosen = Signal(str)  # the key of the row the user chose (a click or the keys)
    action_clicked = Signal(str)  # the key of the row whose button was pressed

    def __init__(
        self,
        machine=None,
        *,
        models_dir: Path | None = None,
        machine_info: MachineInfo,
        speeds=None,
        parent=None,
        comfortable_tok_s: float | None = None,
    ) -> None:
        """``machine`` (a ``fit.Machine``) fixes the machine; else ``machine_info`` (the
        studio's shared one) tells it. ``speeds`` (a ``fit.speed_here.SpeedHere``) fixes the
        speed figures; else ``machine_info`` gives them, or none with a fixed ``machine``.
        ``comfortable_tok_s``: the settings' comfortable speed, which Recommended weighs
        (None: ``pick.COMFORTABLE_TOK_S``)."""
        super().__init__(parent)
        self.machine, self.models_dir, self.speeds = machine, models_dir, speeds
        comfortable_tok_s = comfortable_tok_s or COMFORTABLE_TOK_S
        self.comfortable_tok_s = comfortable_tok_s
        self.machine_info = machine_info
        self.items: list[QuantItem] = []
        self.pick: pick.Pick | None = None
        self._rows_task: TaskHandle | None = None  # a newer request or clear() drops it

        self.title = QLabel("<b>Which quant?</b>")
        self.context = QComboBox()
        self.context.setToolTip(
            "The context length you want to chat with: longer contexts "
            "need more memory, so fewer quants fit."
        )
        self.context.currentIndexChanged.connect(self._context_chosen)
        self.status = QLabel(objectName="hint", wordWrap=True)
        self.reason = QLabel(
            objectName="note",
            wordWrap=True,
            textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse,
        )
        self.reason.hide()
        self.model = QuantPickerModel(self)
        self.model.comfortable_tok_s = comfortable_tok_s
        self.table = QTableView()
        self.table.setModel(self.model)
        self.delegate = QuantPickerDelegate(self.table)
        self.table.setItemDelegate(self.delegate)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(38)
        header = self.table.horizontalHeader()
        # Columns sized to their contents within the table's width: the bits, fit ("CPU only"),
        # speed and button whole, the others elided (whole in the row's tooltip) but never
        # below their key words (the quality's verdict and header), "What it means" and then
        # the bits per weight hidden when short of room (the line under the table says both
        # for the chosen row). Stretched and sized to contents, the columns needed a
        # horizontal scrollbar even at 1366 px, with Expected quality cut (issue 19).
        self.columns = ColumnFitter(
            self.table,
            elastic=(
                QuantPickerModel.QUANT,
                QuantPickerModel.SIZE,
                QuantPickerModel.QUALITY,
                QuantPickerModel.ABOUT,
            ),
            floors={
                QuantPickerModel.QUANT: self._narrowest_quant,
                QuantPickerModel.SIZE: lambda: 76,
                QuantPickerModel.QUALITY: self._narrowest_quality,
                QuantPickerModel.ABOUT: self._narrowest_about,
            },
            # said under the table for the chosen row, and in each row's tooltip
            optional=(QuantPickerModel.ABOUT, QuantPickerModel.BITS),
        )
        self.buttons = ButtonDelegate(self.table, enabled_role=QuantRole.ActionEnabled)
        self.buttons.clicked.connect(self._action_clicked)
        self.table.setItemDelegateForColumn(QuantPickerModel.ACTION, self.buttons)
        self.table.setMouseTracking(True)
        self.table.setColumnHidden(QuantPickerModel.ACTION, True)  # until set_actions
        # The button beside its quant, where a 1024-px window shows it: as the last column it
        # sat past a horizontal scrollbar.
        header.moveSection(QuantPickerModel.ACTION, QuantPickerModel.BITS)
        # Room for two rows at least: below that the table showed only its header (issue 19).
        self.table.setMinimumHeight(
            header.sizeHint().height() + 2 * self.table.verticalHeader().defaultSectionSize() + 24
        )
        self.table.selectionModel().currentRowChanged.connect(self._row_chosen)
        self.about = QLabel(
            wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse
        )
        # Where the figures come from, one click away: the paragraph took five lines of a
        # 640-px window under the table.
        self.sources = QLabel(
            '<a href="#sources">Where these figures come from</a>', objectName="hint", wordWrap=True
        )
        self.sources.setToolTip(SOURCES)
        self.sources.linkActivated.connect(self.show_sources)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QLabel("Context:"))
        top.addWidget(self.context)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.reason)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.about)
        layout.addWidget(self.sources)
        self.set_context_choices(None)

    def _narrowest_about(self) -> int:
        """A vision model's "+ projector 854 MB" whole, else the usual floor (the column
        steps aside rather than cut it: the line under the table says it too). Its words
        follow, elided: room for the "…" after it and the cell's margins."""
        metrics = self.table.fontMetrics()
        texts = [projector_short(r) for r in self.model.rows() if r.projector_bytes]
        return max([FLOOR] + [metrics.horizontalAdvance(f"{t} ·…") + 12 for t in texts])

    def _narrowest_quality(self) -> int:
        """Its header ("Expected quality" was cut to "Expectec") and each verdict word whole
        (the bar's text has 8 px each side)."""
        metrics = self.table.fontMetrics()
        words = [
            explain.quality_short(r.quality.kld if r.quality else None) for r in self.model.rows()
        ]
        widest = max((metrics.horizontalAdvance(w) for w in words), default=0)
        header = self.table.horizontalHeader().sectionSizeHint(QuantPickerModel.QUALITY)
        return max(FLOOR, header, widest + 18)

    def _narrowest_quant(self) -> int:
        option = QStyleOptionViewItem()
        option.initFrom(self.table)
        return self.delegate.narrowest_quant(option, [r.quant for r in self.model.rows()])

    # -- what to show ----------------------------------------------------------------------------

    def set_context_choices(self, n_ctx_train: int | None, current: int | None = None) -> None:
        choices = pick.context_choices(n_ctx_train)
        current = current or self.n_ctx() or DEFAULT_CTX
        self.context.blockSignals(True)
        self.context.clear()
        for n in choices:
            self.context.addItem(f"{n:,} tokens", n)
        best = max((n for n in choices if n <= current), default=choices[0])
        self.context.setCurrentIndex(choices.index(best))
        self.context.blockSignals(False)

    def n_ctx(self) -> int:
        return int(self.context.currentData() or 0)

    def load(
        self,
        loader: Loader,
        n_ctx_train: int | None = None,
        message: str = "Reading the quants' headers...",
    ) -> None:
        """Show the rows ``loader()`` makes (run off the GUI thread: it may read files or the
        network)."""
        self.set_context_choices(n_ctx_train)
        self._start(loader, message)

    def set_items(self, items: list[QuantItem], n_ctx_train: int | None = None) -> None:
        """Rows for items already in hand (the fits are still computed off the GUI thread)."""
        self.load(lambda: list(items), n_ctx_train, "Working out what fits...")

    def set_machine(self, machine) -> None:
        """Another machine (or its memory changed): the fits are computed again."""
        self.machine = machine
        self.recompute()

    @Slot(float)
    def set_comfortable(self, tok_s: float) -> None:
        """The comfortable speed changed in File > Settings: Recommended again."""
        if tok_s != self.comfortable_tok_s:
            self.comfortable_tok_s = self.model.comfortable_tok_s = tok_s
            self.recompute()

    @Slot()
    def recompute(self) -> None:
        """The fits again at the chosen context, from the shapes already read."""
        if self.items:
            items = list(self.items)
            self._start(
                lambda: items, f"Working out what fits with {self.n_ctx():,} tokens of context..."
            )

    def _start(self, loader: Loader, message: str) -> None:
        machine, n_ctx, comfortable = self.machine, self.n_ctx(), self.comfortable_tok_s
        info, speeds = self.machine_info, self.speeds
        self._say(message)

        def work():
            try:
                here = machine or info.machine()
                items = loader()
            except HearthError as exc:  # shown in place of the rows (a stale one is dropped)
                return None, [], [], pick.Pick(None, str(exc), False), speeds
            used, why = _speeds(speeds, machine, info)
            table = pick.rows(items, here, n_ctx, speeds=used)
            return here, items, table, pick.pick(table, here, n_ctx, comfortable), (used, why)

        self._rows_task = run_task(work, self._on_rows, self._on_failed, self, key="rows")

    @Slot()
    def show_sources(self) -> None:
        self.sources.setText(SOURCES)

    def set_actions(self, actions: dict[str, tuple[str, bool]]) -> None:
        """Give each row (by key) its own button: ``(text, enabled)``; the column shows once
        set. The model page's Download downloads the row it is on (issue 19)."""
        self.model.set_actions(actions)
        self.table.setColumnHidden(QuantPickerModel.ACTION, False)
        self.columns.fit()

    @Slot(QModelIndex)
    def _action_clicked(self, index: QModelIndex) -> None:
        entry = self.model.entry(index.row())
        if entry is not None:
            self.action_clicked.emit(entry.key)

    def clear(self, message: str = "") -> None:
        if self._rows_task is not None:
            self._rows_task.cancel()
        self.items, self.pick = [], None
        self.model.clear()
        self.reason.hide()
        self.about.clear()
        self._say(message)

    # -- results ---------------------------------------------------------------------------------

    @Slot(int)
    def _context_chosen(self, _index: int) -> None:
        self.recompute()

    @Slot(QModelIndex, QModelIndex)
    def _row_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_about(current.row())
        entry = self.model.entry(current.row())
        if entry is not None:
            self.chosen.emit(entry.key)

    def _show_about(self, row: int) -> None:
        """What the chosen quant (else the recommended one) means, under the table."""
        entry = self.model.entry(row) or self.model.recommended()
        bits = explain.bits_words(entry.quant, entry.bits) if entry else ""
        self.about.setText(
            f"<b>{entry.quant}</b>: {entry.explanation.split(': ', 1)[-1]}"
            + (f" ({bits})" if bits else "")
            + (  # the whole fit verdict, where the cell says it short ("CPU only")
                f" · fit here: {entry.fit.verdict}" if entry.fit.verdict != fit_short(entry) else ""
            )
            + (
                f"<br>{projector_words(entry)}: it downloads with the model"
                if entry.projector_bytes
                else ""
            )
            if entry
            else ""
        )
        self.about.setVisible(entry is not None)

    @Slot(object)
    def _on_rows(self, answer) -> None:
        machine, items, table, chosen, (speeds, no_speeds) = answer
        self.model.no_speeds = no_speeds
        # Kept for the next recompute: with the machine kept alone, a fixed machine meant no
        # speed figures, and a context or comfortable speed chosen later lost the column.
        self.machine, self.speeds = self.machine or machine, self.speeds or speeds
        self.items, self.pick = items, chosen
        self.model.set_rows(table, chosen)
        self.reason.setText(("★ Recommended — " if chosen.key else "") + chosen.reason)
        self.reason.setObjectName("note" if chosen.key else "error")
        self.reason.style().unpolish(self.reason)
        self.reason.style().polish(self.reason)
        self.reason.show()
        self._say("")
        self._show_about(self.table.currentIndex().row())
        if chosen.key:
            self.table.scrollTo(self.model.index(self.model.row_of(chosen.key), 0))
        self.recommended_changed.emit(chosen.key or "")
        self.ready.emit()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._say(message)
        self.failed.emit(message)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))


def _speeds(speeds, machine, info: MachineInfo) -> tuple[object, str]:
    """The speed figures to show (on the worker thread: the first use probes the CPU), and
    why there are none ("" when there are)."""
    if speeds is not None:
        return speeds, ""
    if machine is not None:  # a machine described, not this one: nothing was measured on it
        return None, "this machine's memory speed has not been measured"
    try:
        return info.speeds(), ""
    except (OSError, ValueError) as exc:  # no figures is better than no rows
        log.warning("No speed figures: %s", exc)
        return None, f"this machine's memory speed could not be measured ({exc})"
