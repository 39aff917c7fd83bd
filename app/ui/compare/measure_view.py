"""The Measure tab: pick 2-8 files of one model, measure them, read the results table.

Measuring runs on the ``Measurer``'s thread; this view only sends the request and shows
progress, messages and results. Stored results come back at once (marked "stored").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.measure.measurement import MAX_FILES, MIN_FILES, Comparison, MeasureSettings
from app.ui.common.columns import ColumnFitter
from app.ui.compare.figures_toggle import figures_toggle
from app.ui.compare.measure_worker import Measurer, MeasureRequest
from app.ui.compare.pick_model import PickModel
from app.ui.compare.results_model import FIGURES, ResultsModel


def _threads(n: int) -> str:
    return f"{n} CPU thread" + ("" if n == 1 else "s")


def ask_text_file(parent: QWidget) -> str:
    path, _ = QFileDialog.getOpenFileName(
        parent, "Measure on your own text", "", "Text files (*.txt *.md);;All files (*)"
    )
    return path


class MeasureView(QWidget):
    comparisons_changed = Signal(list)  # the Comparison results now shown

    def __init__(
        self,
        picks: PickModel,
        results: ResultsModel,
        measurer: Measurer,
        settings: MeasureSettings = MeasureSettings(),
        choose_text: Callable[[QWidget], str] = ask_text_file,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.picks, self.results, self.measurer = picks, results, measurer
        self.settings = settings
        self._choose_text = choose_text
        self.text_path: str | None = None
        self.comparisons: list[Comparison] = []

        # A table whose quant and size stay whole and whose file name gives way (elided in the
        # middle, whole in the tooltip): one line of text per file scrolled the list sideways
        # in a 1024-px window (issue 19).
        self.file_list = QTableView()
        self.file_list.setModel(picks)
        self.file_list.setMinimumHeight(150)
        self.file_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.file_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.file_list.verticalHeader().hide()
        self.file_list.setShowGrid(False)
        self.file_list.setWordWrap(False)
        self.file_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.file_columns = ColumnFitter(self.file_list, elastic=[0])
        self.text_button = QPushButton("Your own text...")
        self.text_button.setToolTip(
            "Also measure on a text of yours (a .txt file): quality "
            "on the kind of writing you use the model for"
        )
        self.text_button.clicked.connect(self._choose_own_text)
        self.clear_text_button = QPushButton("Bundled text only", objectName="small")
        self.clear_text_button.clicked.connect(self.clear_own_text)
        self.text_label = QLabel(objectName="hint", wordWrap=True)
        self.measure_button = QPushButton("Measure", objectName="primary")
        self.measure_button.clicked.connect(self.start)
        side = QVBoxLayout()
        side.addWidget(self.text_button)
        side.addWidget(self.text_label)
        side.addWidget(self.clear_text_button)
        side.addStretch(1)
        side.addWidget(self.measure_button)
        top = QHBoxLayout()
        top.addWidget(self.file_list, 1)
        side_box = QWidget()
        side_box.setFixedWidth(210)
        side_box.setLayout(side)
        side.setContentsMargins(0, 0, 0, 0)
        top.addWidget(side_box)

        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(10)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(measurer.cancel)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.status = QLabel(objectName="hint", wordWrap=True)

        self.table = QTableView()
        self.table.setModel(results)  # the core's order: reference first, then by size
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setColumnHidden(results.column("Text"), True)  # shown for two texts
        self.show_figures = figures_toggle(
            self.table, lambda: [results.column(name) for name in FIGURES]
        )
        # Within the page's width also with the figures shown (they scrolled sideways in a
        # 1366-px window): the file and the verdict give way, elided, whole in their tooltips
        # (narrower with the figures beside them: the quant and the figures say it too); where
        # the figures still lack room, "Measured" and "Memory" step aside.
        figures = self.show_figures.isChecked
        self.result_columns = ColumnFitter(
            self.table,
            elastic=[results.column("File"), results.column("Answers")],
            floors={
                results.column("File"): lambda: 40 if figures() else 70,
                results.column("Answers"): lambda: 60 if figures() else 130,
            },
            optional=[results.column("Measured"), results.column("Memory")],
        )
        self.show_figures.toggled.connect(self.result_columns.fit)  # columns shown or hidden
        self.summary = QLabel(objectName="hint", wordWrap=True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.addWidget(
            QLabel(
                f"Tick {MIN_FILES} to {MAX_FILES} files of one model. Hearth measures how close "
                "each one's predictions stay to the largest file (or the F16 file), and how fast "
                "each one runs here.",
                objectName="hint",
                wordWrap=True,
            )
        )
        layout.addLayout(top)
        layout.addLayout(progress_row)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        below = QHBoxLayout()
        below.addWidget(self.summary, 1)
        below.addWidget(self.show_figures)
        layout.addLayout(below)

        measurer.progress.connect(self._on_progress)
        measurer.finished.connect(self._on_finished)
        measurer.failed.connect(self._on_failed)
        measurer.cancelled.connect(self._on_cancelled)
        measurer.busy_changed.connect(self._on_busy)
        picks.dataChanged.connect(self._update_buttons)
        picks.modelReset.connect(self._update_buttons)
        self._show_text()
        self._on_busy(False)

    # What the user does ------------------------------------------------------------------

    def pick(self, paths: list[str]) -> None:
        missing = self.picks.set_checked(paths)
        if missing:
            names = ", ".join(Path(p).name for p in missing)
            self.say(f"Not in your library (rescan My Models): {names}", "error")
        else:
            self.say(f"{len(paths)} files picked. Press Measure to compare them.")

    @Slot()
    def start(self) -> None:
        files = self.picks.checked_paths()
        if not MIN_FILES <= len(files) <= MAX_FILES:
            self.say(
                f"Tick between {MIN_FILES} and {MAX_FILES} files of one model "
                f"({len(files)} ticked).",
                "error",
            )
            return
        request = MeasureRequest(tuple(files), self.text_path, self.settings)
        if self.measurer.start(request):
            self.progress.setValue(0)
            self.say(f"Measuring {len(files)} files...")

    def set_own_text(self, path: str | None) -> None:
        self.text_path = path or None
        self._show_text()

    @Slot()
    def clear_own_text(self) -> None:
        self.set_own_text(None)

    @Slot()
    def _choose_own_text(self) -> None:
        path = self._choose_text(self)
        if path:
            self.set_own_text(path)

    # What the measurer says --------------------------------------------------------------

    @Slot(int, int, str)
    def _on_progress(self, step: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(step)
        self.say(message)

    @Slot(object)
    def _on_finished(self, comparisons: list) -> None:
        self.comparisons = list(comparisons)
        self.results.set_comparisons(self.comparisons)
        # One text: its name in every row says nothing.
        self.table.setColumnHidden(self.results.column("Text"), len(self.results.texts()) < 2)
        self.result_columns.fit()
        rows = [r for c in self.comparisons for r in c.rows]
        stored = sum(r.cached for r in rows)
        measured = len(rows) - stored
        parts = []
        if measured:
            parts.append(f"measured {measured} in {sum(c.seconds for c in comparisons):.0f} s")
        if stored:
            parts.append(f"{stored} from earlier measurements")
        self.say("Done: " + ", ".join(parts) + ".")
        first = self.comparisons[0]
        model = self.results.prefix.rstrip("-._ ")
        self.summary.setText(
            (f"Files of {model}. " if model else "")
            + f"Answers are compared with {Path(first.reference).name}'s. "
            f"{first.rows[0].tokens} positions of text scored per file; speeds with "
            f"{_threads(first.rows[0].threads)}."
        )
        self.comparisons_changed.emit(self.comparisons)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.progress.setValue(0)
        self.say(message, "error")

    @Slot(str)
    def _on_cancelled(self, message: str) -> None:
        self.progress.setValue(0)
        self.say(message, "note")

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.file_list.setEnabled(not busy)
        self.text_button.setEnabled(not busy)
        self._update_buttons()

    @Slot()
    def _update_buttons(self, *_args) -> None:
        count = len(self.picks.checked_paths())
        self.measure_button.setEnabled(not self.measurer.busy and count >= MIN_FILES)
        self.measure_button.setText(f"Measure {count} files" if count else "Measure")
        self.clear_text_button.setEnabled(bool(self.text_path) and not self.measurer.busy)

    def _show_text(self) -> None:
        if self.text_path:
            self.text_label.setText(f"Bundled text and {Path(self.text_path).name}")
        else:
            self.text_label.setText("Measured on Hearth's bundled text")
        self.clear_text_button.setVisible(bool(self.text_path))
        self._update_buttons()

    def say(self, text: str, kind: str = "hint") -> None:
        self.status.setText(text)
        if self.status.objectName() != kind:
            self.status.setObjectName(kind)
            self.status.style().unpolish(self.status)
            self.status.style().polish(self.status)
