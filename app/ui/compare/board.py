"""The machinery Side by side and the arena share: pick 2-4 models, one prompt, one column each.

``CompareBoard(library, models_dir, blind=False)``: model pickers over the library's model,
a prompt box with Send and Stop, a line saying whether the models answer at once or one after
another, and the answer columns. ``blind=True`` shuffles the models into columns titled
"Answer A", "Answer B", ... (the arena reveals them after the vote).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget,
)

from app.core import side_by_side
from app.core.engine import SamplingOptions
from app.core.fit import Machine
from app.core.library import LocalModel
from app.core.side_by_side import MAX_MODELS, MIN_MODELS, Schedule
from app.ui.compare.answer_column import AnswerColumn
from app.ui.compare.runner import CompareRunner
from app.ui.library_model import LibraryModel, ModelRole
from app.ui.tasks import run_task


def probe_machine(models_dir: Path) -> Callable[[], Machine]:
    def probe() -> Machine:
        from app.core import hardware

        return Machine.from_report(hardware.probe(models_dir))

    return probe


class CompareBoard(QWidget):
    round_started = Signal()
    round_finished = Signal()

    def __init__(self, library: LibraryModel, models_dir: Path, *, blind: bool = False,
                 sampling: SamplingOptions | None = None,
                 machine: Callable[[], Machine] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.blind = blind
        self.sampling = sampling or SamplingOptions()
        self._machine = machine or probe_machine(models_dir)
        self.runner = CompareRunner(self)
        self.runner.status.connect(self._on_status)
        self.runner.started.connect(self._on_started)
        self.runner.token.connect(self._on_token)
        self.runner.done.connect(self._on_done)
        self.runner.all_done.connect(self._on_all_done)
        self.columns: list[AnswerColumn] = []
        self.column_models: list[LocalModel] = []
        self.revealed = not blind
        self._probing = False
        self._prompt_sent = ""

        self.pickers: list[QComboBox] = []
        self._picker_row = QHBoxLayout()
        self._picker_row.setSpacing(8)
        self.add_button = QPushButton("Add a model", clicked=self.add_picker)
        self.remove_button = QPushButton("Remove last", clicked=self.remove_picker)
        picker_line = QHBoxLayout()
        picker_line.addWidget(QLabel("Models:"))
        picker_line.addLayout(self._picker_row, 1)
        picker_line.addWidget(self.add_button)
        picker_line.addWidget(self.remove_button)

        self.prompt = QPlainTextEdit(
            placeholderText="One prompt for every model, e.g. \"Explain what a quant is in "
                            "two sentences.\"")
        self.prompt.setMaximumHeight(84)
        self.send_button = QPushButton("Send", objectName="primary", clicked=self.send)
        self.stop_button = QPushButton("Stop", clicked=self.stop, enabled=False)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        prompt_line = QHBoxLayout()
        prompt_line.addWidget(self.prompt, 1)
        prompt_line.addLayout(buttons)

        self.info = QLabel("", objectName="hint", wordWrap=True)
        self.message = QLabel("", wordWrap=True)
        self.message.setStyleSheet("color: #b42318;")
        self.message.hide()
        self._columns_row = QHBoxLayout()
        self._columns_row.setSpacing(10)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(picker_line)
        layout.addLayout(prompt_line)
        layout.addWidget(self.message)
        layout.addWidget(self.info)
        layout.addLayout(self._columns_row, 1)
        for row in range(MIN_MODELS):
            self.add_picker()
        library.modelReset.connect(self._update_buttons)

    # -- pickers --------------------------------------------------------------------------
    @Slot()
    def add_picker(self) -> None:
        if len(self.pickers) >= MAX_MODELS:
            return
        combo = QComboBox()
        combo.setModel(self.library)
        combo.setModelColumn(0)
        combo.setMinimumContentsLength(18)
        combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        combo.setCurrentIndex(min(len(self.pickers), self.library.rowCount() - 1))
        self.pickers.append(combo)
        self._picker_row.addWidget(combo, 1)
        self._update_buttons()

    @Slot()
    def remove_picker(self) -> None:
        if len(self.pickers) > MIN_MODELS:
            self.pickers.pop().deleteLater()
        self._update_buttons()

    def select(self, paths: list[Path]) -> None:
        """Pick these models (by file), adding pickers as needed."""
        while len(self.pickers) < len(paths):
            self.add_picker()
        while len(self.pickers) > max(len(paths), MIN_MODELS):
            self.remove_picker()
        rows = {m.path: row for row, m in enumerate(self.library.models())}
        for combo, path in zip(self.pickers, paths):
            combo.setCurrentIndex(rows.get(Path(path), -1))

    def picked(self) -> list[LocalModel]:
        models = [c.currentData(ModelRole) for c in self.pickers]
        return [m for m in models if m is not None]

    @Slot()
    def _update_buttons(self) -> None:
        running = self.runner.running or self._probing
        self.add_button.setEnabled(len(self.pickers) < MAX_MODELS and not running)
        self.remove_button.setEnabled(len(self.pickers) > MIN_MODELS and not running)
        for combo in self.pickers:
            combo.setEnabled(not running)
            if combo.currentIndex() < 0 and self.library.rowCount():
                combo.setCurrentIndex(0)
        self.send_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    # -- a round --------------------------------------------------------------------------
    @Slot()
    def send(self) -> None:
        prompt = self.prompt.toPlainText().strip()
        models = self.picked()
        if self.library.rowCount() < MIN_MODELS:
            return self._refuse("Compare needs at least two local models. Download another "
                                "quant on Discover, or make one in Make a quant.")
        if len({m.path for m in models}) < len(self.pickers):
            return self._refuse("Pick a different model in each box.")
        if not prompt:
            return self._refuse("Type a prompt first: every model answers the same one.")
        self.message.hide()
        order = side_by_side.blind_order(len(models)) if self.blind else list(range(len(models)))
        self.column_models = [models[i] for i in order]
        self.revealed = not self.blind
        self._prompt_sent = prompt
        self._build_columns()
        self.round_started.emit()
        paths = [m.path for m in self.column_models]
        if set(paths) <= self.runner.loaded_paths():
            self.info.setText("The models are loaded: they answer at once.")
            self._run(None)
            return
        self.runner.release_all()  # measure free memory without the models loaded before
        self._probing = True
        self._update_buttons()
        self.info.setText("Checking free memory...")
        machine = self._machine
        run_task(lambda: side_by_side.schedule(paths, machine()), self._on_schedule,
                 self._on_schedule_failed, self)

    @Slot(object)
    def _on_schedule(self, schedule: Schedule) -> None:
        if not self._probing:  # stopped while measuring
            return
        self._probing = False
        self.info.setText(schedule.message)
        self._run(schedule)

    @Slot(str)
    def _on_schedule_failed(self, message: str) -> None:
        if not self._probing:
            return
        self._probing = False
        n = len(self.column_models)
        self.info.setText(f"Free memory could not be measured ({message}): the models answer "
                          "one after another.")
        self._run(Schedule(False, (0,) * n, 0, 0, ""))

    def _run(self, schedule: Schedule | None) -> None:
        self.runner.run([m.path for m in self.column_models], self._prompt_sent, self.sampling,
                        schedule)
        self._update_buttons()

    @Slot()
    def stop(self) -> None:
        if self._probing:
            self._probing = False
            for column in self.columns:
                column.finish(None, "Stopped before it started.")
            self.info.setText("Stopped.")
            self._update_buttons()
            self.round_finished.emit()
            return
        self.runner.stop()

    def shutdown(self) -> None:
        self._probing = False
        self.runner.shutdown()

    def prompt_sent(self) -> str:
        return self._prompt_sent

    def _refuse(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def _build_columns(self) -> None:
        for column in self.columns:
            self._columns_row.removeWidget(column)
            column.deleteLater()
        self.columns = []
        for index, model in enumerate(self.column_models):
            title = (f"Answer {side_by_side.column_letter(index)}" if self.blind
                     else model.name)
            column = AnswerColumn(title, self)
            column.set_status("Waiting...")
            self.columns.append(column)
            self._columns_row.addWidget(column, 1)

    # -- from the runner ------------------------------------------------------------------
    @Slot(int, str)
    def _on_status(self, index: int, text: str) -> None:
        if 0 <= index < len(self.columns):
            self.columns[index].set_status(text)

    @Slot(int)
    def _on_started(self, index: int) -> None:
        self.columns[index].begin()

    @Slot(int, str)
    def _on_token(self, index: int, text: str) -> None:
        self.columns[index].append(text)

    @Slot(int, object, str)
    def _on_done(self, index: int, stats, message: str) -> None:
        self.columns[index].finish(stats, message)

    @Slot()
    def _on_all_done(self) -> None:
        self._update_buttons()
        self.round_finished.emit()
