"""Make a quant: from a local F16, BF16, F32 or Q8_0 file, a smaller type with llama.cpp's
quantizer. Shows the expected size and a warning when the source is already quantized,
progress and Cancel while it runs; the new file lands in Hearth's models folder and
``quant_made`` tells the library to refresh. ``MakeQuantDialog`` holds the same panel.

The plan reads the source's GGUF header (37-45 ms for a 1.8 MB header, several times that for
a 256k-token vocabulary), so it is made on the thread pool on every change of source or type,
the latest change only; the quant itself runs on ``tasks.long_jobs()``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.common.units import format_size
from app.core.gguf import quant_types
from app.core.quants.quantize import (
    SOURCES,
    TARGETS,
    UNQUANTIZED,
    QuantPlan,
    make_quant,
    output_name,
    plan_quant,
)
from app.ui.common.tasks import JobControl, TaskHandle, long_jobs, run_job, run_task
from app.ui.my_models.library_model import LibraryModel, ModelRole


class MakeQuantPanel(QWidget):
    quant_made = Signal(str)  # the new file: the library should refresh
    plan_changed = Signal()  # a plan (or why there is none) is shown

    def __init__(self, library: LibraryModel, models_dir: Path, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.models_dir = Path(models_dir)
        self.plan: QuantPlan | None = None
        self.job: TaskHandle | None = None
        self._planning: TaskHandle | None = None
        # The source the user chose, kept when the library is scanned again (after "Made X",
        # the refresh used to put the first model back, and show a red error, issue 19).
        self.chosen: Path | None = None
        self.source = QComboBox()
        self.source.setModel(library)
        self.source.setModelColumn(0)
        self.target = QComboBox()
        self.source_info = QLabel("", objectName="hint", wordWrap=True)
        self.plan_info = QLabel("", wordWrap=True)
        self.warning = QLabel("", objectName="note", wordWrap=True)
        self.progress = QProgressBar(textVisible=True)
        self.progress.hide()
        self.status = QLabel("", wordWrap=True)
        self.make_button = QPushButton("Make quant", objectName="primary", clicked=self.start)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, enabled=False)

        form = QFormLayout()
        form.addRow("Source file", self.source)
        form.addRow("", self.source_info)
        form.addRow("Make", self.target)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.make_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(
            QLabel(
                "Make a smaller quant of a model you have in full precision "
                "(F16, BF16, F32) or Q8_0, with llama.cpp's quantizer. The new "
                "file joins your models.",
                objectName="hint",
                wordWrap=True,
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.plan_info)
        layout.addWidget(self.warning)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.source.currentIndexChanged.connect(self._on_source)
        self.source.activated.connect(self._on_source_chosen)
        self.target.currentIndexChanged.connect(self._update_plan)
        library.modelReset.connect(self._on_library_reset)
        self._on_library_reset()

    def select_source(self, path: Path) -> None:
        self.chosen = Path(path)
        for row, model in enumerate(self.library.models()):
            if model.path == Path(path):
                self.source.setCurrentIndex(row)

    def default_source_row(self) -> int:
        """The row to show first: the user's choice, else a file that can be quantized (full
        precision first), else the first model (-1: none)."""
        models = self.library.models()
        rows = [
            r for r, m in enumerate(models) if self.chosen is not None and m.path == self.chosen
        ]
        rows += [r for r, m in enumerate(models) if m.quant in UNQUANTIZED]
        rows += [r for r, m in enumerate(models) if m.quant in SOURCES]
        return rows[0] if rows else (0 if models else -1)

    def select_target(self, quant: str) -> None:
        self.target.setCurrentIndex(self.target.findText(quant))

    @property
    def running(self) -> bool:
        return self.job is not None

    @property
    def planning(self) -> bool:
        """The source's header is being read for a plan."""
        return self._planning is not None and not self._planning.ended

    # -- choosing -------------------------------------------------------------------------
    @Slot(int)
    def _on_source_chosen(self, row: int) -> None:
        model = self.source.itemData(row, ModelRole)
        self.chosen = model.path if model is not None else None

    @Slot()
    def _on_library_reset(self) -> None:
        row = self.default_source_row()
        if row != self.source.currentIndex():
            self.source.setCurrentIndex(row)  # _on_source follows
        else:
            self._on_source()

    @Slot()
    def _on_source(self) -> None:
        model = self.source.currentData(ModelRole)
        self.target.blockSignals(True)
        self.target.clear()
        self.target.blockSignals(False)
        if model is None:
            self.source_info.setText("No local models yet.")
            self._update_plan()
            return
        quant = model.quant or "unknown"
        self.source_info.setText(f"{quant} · {format_size(model.size_bytes)}")
        source_bits = quant_types.bits_per_weight(quant) or 0
        if quant in SOURCES:
            smaller = [t for t in TARGETS if (quant_types.bits_per_weight(t) or 0) < source_bits]
            self.target.addItems(smaller)
            # Q4_K_M unless it is made already: then the next smaller type not made yet
            made = self.models_dir / "quants"
            new = [t for t in smaller if not (made / output_name(model.path, quant, t)).exists()]
            order = ["Q4_K_M", *[t for t in smaller if t != "Q4_K_M"]]
            default = next((t for t in order if t in new), smaller[0] if smaller else "")
            self.target.setCurrentIndex(self.target.findText(default))
        self._update_plan()

    @Slot()
    def _update_plan(self) -> None:
        self.plan = None
        self.warning.hide()
        if self._planning is not None:
            self._planning.cancel()
        model = self.source.currentData(ModelRole)
        target = self.target.currentText()
        if model is None:
            self.plan_info.setText("Download a model in F16, BF16 or Q8_0 first.")
        elif (model.quant or "unknown") not in SOURCES:
            # Guidance, not an error: the tab opens on such a file when it is all there is.
            self.plan_info.setText(
                f"{model.name} is {model.quant or 'of an unknown type'}: quants are made from "
                "an F16, BF16, F32 or Q8_0 file. Quantizing an already small quant again "
                "loses too much quality; download the F16 or Q8_0 file of this model."
            )
            _mark(self.plan_info, "")
        elif target:
            source, models_dir = model.path, self.models_dir
            _mark(self.plan_info, "")
            self.plan_info.setText(f"Reading {model.name}...")
            self._planning = run_task(
                lambda: plan_quant(source, target, models_dir),
                self._on_plan,
                self._on_plan_refused,
                self,
                key="plan",
            )
        self._show_enabled()
        if not self.planning:
            self.plan_changed.emit()

    @Slot(object)
    def _on_plan(self, plan: QuantPlan) -> None:
        self.plan = plan
        _mark(self.plan_info, "")
        self.plan_info.setText(
            f"Makes {plan.output.name}, about "
            f"{format_size(plan.expected_bytes)}, in Hearth's models folder."
        )
        if plan.warning:
            self.warning.setText(plan.warning)
            self.warning.show()
        self._show_enabled()
        self.plan_changed.emit()

    @Slot(str)
    def _on_plan_refused(self, message: str) -> None:
        self.plan_info.setText(message)
        _mark(self.plan_info, "error")
        self.make_button.setToolTip(message)
        self.plan_changed.emit()

    # -- running --------------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        if self.plan is None or self.running:
            return
        plan = self.plan

        def make(control: JobControl) -> str:
            def progress(done: int, total: int, message: str) -> None:
                control.report((done, total))

            return str(make_quant(plan, progress=progress, cancel=control.stop).path)

        self.job = run_job(
            make,
            self,
            on_done=self._on_finished,
            on_error=self._on_failed,
            on_progress=self._on_progress,
            on_cancelled=lambda: self._on_cancelled(f"Making {plan.output.name} was cancelled."),
            name=f"making {plan.output.name}",
            pool=long_jobs(),  # a quant takes minutes: not on the pool short jobs share
        )
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.show()
        _mark(self.status, "")
        self.status.setText(f"Making {self.plan.output.name}...")
        self._set_running(True)

    @Slot()
    def cancel(self) -> None:
        if self.job is not None:
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling...")
            self.job.cancel()

    @Slot(object)
    def _on_progress(self, sizes: tuple[int, int]) -> None:
        done, total = sizes  # bytes written, bytes expected
        if total > 0:
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{format_size(done)} of about {format_size(total)}")

    @Slot(str)
    def _on_finished(self, path: str) -> None:
        self.job = None
        self._set_running(False)
        self._on_source()  # the next type not made yet: the one just made would be refused
        size = format_size(Path(path).stat().st_size) if Path(path).exists() else ""
        self.progress.setValue(1000)
        self.progress.setFormat(f"Done: {size}")
        _mark(self.status, "")
        self.status.setText(f"Made {Path(path).name}. It is in your models now.")
        self.quant_made.emit(path)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._end()
        self.progress.hide()
        _mark(self.status, "error")
        self.status.setText(message)

    @Slot(str)
    def _on_cancelled(self, message: str) -> None:
        self._end()
        self.progress.hide()
        self.status.setText(f"{message} Nothing was kept.")

    def _end(self) -> None:
        self.job = None
        self._set_running(False)
        self._update_plan()

    def _set_running(self, running: bool) -> None:
        self.source.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self._show_enabled()

    def _show_enabled(self) -> None:
        """Only what can run is enabled, and a disabled Make quant says what to do first: an
        empty "Make" box and an enabled-looking button read as a tab that works (issue 19)."""
        self.target.setEnabled(not self.running and self.target.count() > 0)
        self.make_button.setEnabled(not self.running and self.plan is not None)
        if self.plan is not None or self.running:
            self.make_button.setToolTip("")
        elif self.source.currentData(ModelRole) is None:
            self.make_button.setToolTip("Download a model in F16, BF16 or Q8_0 first.")
        elif self.target.count() == 0:
            self.make_button.setToolTip("Choose a source file in F16, BF16, F32 or Q8_0 first.")
        else:
            self.make_button.setToolTip("Waiting for the source file's header to be read.")

    def shutdown(self) -> None:
        """Cancel a quant in progress and wait, a bounded time, for its child process to end
        (window closing: llama.cpp's quantizer is terminated and the partial file removed
        within a second)."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait_finished()


class MakeQuantDialog(QDialog):
    def __init__(self, library: LibraryModel, models_dir: Path, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Make a quant")
        self.panel = MakeQuantPanel(library, models_dir, self)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addWidget(close)
        self.resize(560, 360)

    def reject(self) -> None:
        self.panel.shutdown()
        super().reject()


def _mark(label: QLabel, kind: str) -> None:
    """``label`` shown as the theme's ``kind`` ("error": its red box; "": plain text): the
    theme's own colours, which follow View > Theme (a red written into the label stayed the
    light theme's, dim on the dark one)."""
    if label.objectName() != kind:
        label.setObjectName(kind)
        label.style().unpolish(label)
        label.style().polish(label)
