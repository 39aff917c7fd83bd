"""The machinery Side by side and the arena share: pick 2-4 models, one prompt, one column each.

``CompareBoard(library, machine=..., connections=..., sessions=..., blind=False)``: model pickers (the Chat's ``ModelPicker``:
local models, then each saved connection's models as "Connection · model", listed off the GUI
thread each time the board is shown), a prompt box with Send and Stop, a line saying whether the models answer at once or one after
another, and the answer columns. Under each picker, a LoRA adapter and its strength
(``AdapterPick``): the same model with and without one are two different columns.
``blind=True`` shuffles the models into columns titled
"Answer A", "Answer B", ... (the arena reveals them after the vote).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.compare import side_by_side
from app.core.compare.side_by_side import MAX_MODELS, MIN_MODELS, Schedule
from app.core.fit.estimate import Machine
from app.core.inference.model_choice import ModelChoice
from app.core.inference.remote import ConnectionStore
from app.core.inference.types import SamplingOptions
from app.core.library.catalog import LocalModel
from app.ui.chat.connections_dialog import ConnectionsDialog
from app.ui.chat.model_picker import ModelPicker
from app.ui.common.tasks import TaskHandle, run_task
from app.ui.compare.adapter_pick import AdapterPick
from app.ui.compare.answer_column import AnswerColumn
from app.ui.compare.runner import CompareRunner, SessionFactory
from app.ui.my_models.library_model import LibraryModel


class CompareBoard(QWidget):
    round_started = Signal()
    round_finished = Signal()

    def __init__(
        self,
        library: LibraryModel,
        *,
        machine: Callable[[], Machine],
        connections: ConnectionStore,
        sessions: SessionFactory,
        blind: bool = False,
        sampling: SamplingOptions | None = None,
        parent=None,
    ) -> None:
        """``machine`` (the studio's ``MachineInfo.machine``: blocks while it probes, so called
        off the GUI thread), ``connections`` and ``sessions`` come from ``Services``."""
        super().__init__(parent)
        self.library = library
        self.connections = connections
        self.blind = blind
        self.sampling = sampling or SamplingOptions()
        self._machine = machine
        self.runner = CompareRunner(sessions, self, blind)
        self.runner.status.connect(self._on_status)
        self.runner.started.connect(self._on_started)
        self.runner.token.connect(self._on_token)
        self.runner.done.connect(self._on_done)
        self.runner.all_done.connect(self._on_all_done)
        self.columns: list[AnswerColumn] = []
        self.column_choices: list[ModelChoice] = []
        self.column_models: list[LocalModel | None] = []  # None for a remote column
        self.revealed = not blind
        self._probing = False
        # The probe in progress (its token, then its task): a stopped one's answers are ignored
        self._probe: object | None = None
        self._prompt_sent = ""
        self._connections_dialog: ConnectionsDialog | None = None

        self.pickers: list[ModelPicker] = []
        self.adapters: list[AdapterPick] = []  # one under each picker
        self._cells: list[QWidget] = []  # a picker and its adapter
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
            placeholderText='One prompt for every model, e.g. "Explain what a quant is in '
            'two sentences."'
        )
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
        self.message = QLabel("", objectName="error", wordWrap=True)  # the theme's red box
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
        combo = ModelPicker(self.library, self.connections)
        combo.setMinimumContentsLength(18)
        combo.currentIndexChanged.connect(lambda _row, c=combo: self._keep_pick(c))
        combo.manage_requested.connect(self.open_connections)
        local = combo.choices.local_count()
        combo.setCurrentIndex(min(len(self.pickers), local - 1))
        self._keep_pick(combo)
        adapter = AdapterPick(self.library.adapters)
        combo.currentIndexChanged.connect(self._update_buttons)
        cell = QWidget()
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(combo)
        column.addWidget(adapter)
        self.pickers.append(combo)
        self.adapters.append(adapter)
        self._cells.append(cell)
        self._picker_row.addWidget(cell, 1)
        if self.isVisible():
            combo.refresh_remote()
        self._update_buttons()

    @staticmethod
    def _keep_pick(combo: ModelPicker) -> None:
        """The picked row stays picked when the rows are rebuilt (a server listed): the moves
        Qt makes while the rows are rebuilt are not the user's."""
        choice = combo.current_choice()
        if choice is not None and not combo.resetting:
            combo.active_key = choice.key

    def refresh_remote(self) -> None:
        """List the saved connections' models again in every picker (off the GUI thread)."""
        for combo in self.pickers:
            combo.refresh_remote()

    @Slot()
    def open_connections(self) -> ConnectionsDialog:
        """The connections manager (as in Chat); the pickers list the servers again after."""
        if self._connections_dialog is None:
            self._connections_dialog = ConnectionsDialog(self.connections, self)
            self._connections_dialog.changed.connect(self.refresh_remote)
        self._connections_dialog.reload()
        self._connections_dialog.open()
        return self._connections_dialog

    def listing(self) -> bool:
        return any(combo.listing for combo in self.pickers)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.runner.running and not self._probing:
            self.refresh_remote()

    @Slot()
    def remove_picker(self) -> None:
        if len(self.pickers) > MIN_MODELS:
            self.pickers.pop()
            self.adapters.pop()
            self._cells.pop().deleteLater()
        self._update_buttons()

    def select(self, picks: list[Path | str | ModelChoice]) -> None:
        """Pick these models (local files, ``ModelChoice.key``s or choices, a choice with
        its adapter; the others with none), adding pickers as needed."""
        while len(self.pickers) < len(picks):
            self.add_picker()
        while len(self.pickers) > max(len(picks), MIN_MODELS):
            self.remove_picker()
        for combo, adapter, pick in zip(self.pickers, self.adapters, picks):
            choice = pick if isinstance(pick, ModelChoice) else None
            key = choice.with_adapter("").key if choice is not None else str(pick)
            if not combo.select_key(key):
                combo.setCurrentIndex(-1)
            adapter.set_adapter(*((choice.lora_path, choice.lora_scale) if choice else ("",)))

    def picked(self) -> list[ModelChoice]:
        """Each picker's model, with its column's adapter."""
        picked = []
        for combo, adapter in zip(self.pickers, self.adapters):
            choice = combo.current_choice()
            if choice is not None:
                picked.append(adapter.applied_to(choice))
        return picked

    @Slot()
    def _update_buttons(self) -> None:
        running = self.runner.running or self._probing
        self.add_button.setEnabled(len(self.pickers) < MAX_MODELS and not running)
        self.remove_button.setEnabled(len(self.pickers) > MIN_MODELS and not running)
        for combo, adapter in zip(self.pickers, self.adapters):
            combo.setEnabled(not running)
            if combo.currentIndex() < 0 and combo.choices.local_count():
                combo.setCurrentIndex(0)
            choice = combo.current_choice()  # a remote model takes no adapter
            adapter.setEnabled(not running and choice is not None and not choice.is_remote)
        self.send_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    # -- a round --------------------------------------------------------------------------
    @Slot()
    def send(self) -> None:
        prompt = self.prompt.toPlainText().strip()
        models = self.picked()
        available = len(self.pickers[0].choices.choices()) if self.pickers else 0
        # The same model with an adapter is another choice: one model is enough then.
        if len({m.key for m in models}) < len(self.pickers):
            if available < MIN_MODELS:
                return self._refuse(
                    "Compare needs at least two models. Download another quant on "
                    "Discover, make one in Make a quant, add a connection to a "
                    "server in Chat, or give one column a LoRA adapter."
                )
            return self._refuse(
                "Pick a different model in each box, or give one of them a LoRA adapter."
            )
        if not prompt:
            return self._refuse("Type a prompt first: every model answers the same one.")
        self.message.hide()
        order = side_by_side.blind_order(len(models)) if self.blind else list(range(len(models)))
        self.column_choices = [models[i] for i in order]
        local = {str(m.path): m for m in self.library.models()}
        self.column_models = [
            None if c.is_remote else local.get(c.path) for c in self.column_choices
        ]
        self.revealed = not self.blind
        self._prompt_sent = prompt
        self._build_columns()
        self.round_started.emit()
        paths = [Path(c.path) for c in self.column_choices if not c.is_remote]
        local_keys = {c.key for c in self.column_choices if not c.is_remote}
        if local_keys <= self.runner.loaded_keys():
            remote = [c.is_remote for c in self.column_choices]
            if not any(remote):
                self.info.setText("The models are loaded: they answer at once.")
            elif paths:
                self.info.setText("The local models are loaded: every model answers at once.")
            else:
                self.info.setText(side_by_side.with_remote(None, remote).message)
            self._run(None)
            return
        self._probing = True
        self._update_buttons()
        self.info.setText("Checking free memory...")
        # measure free memory without the models loaded before: once they are unloaded
        probe = self._probe = object()
        self.runner.release_all(lambda: self._measure_memory(paths, probe))

    def _measure_memory(self, paths: list[Path], probe: object) -> None:
        if probe is not self._probe:  # stopped while the models were unloading
            return
        machine = self._machine
        self._probe = run_task(
            lambda: side_by_side.schedule(paths, machine()),
            self._on_schedule,
            self._on_schedule_failed,
            self,
        )

    @Slot(object)
    def _on_schedule(self, schedule: Schedule) -> None:
        self._probing = False
        schedule = side_by_side.with_remote(schedule, [c.is_remote for c in self.column_choices])
        self.info.setText(schedule.message)
        self._run(schedule)

    @Slot(str)
    def _on_schedule_failed(self, message: str) -> None:
        self._probing = False
        n = len(self.column_choices)
        self.info.setText(
            f"Free memory could not be measured ({message}): the local models "
            "answer one after another."
        )
        self._run(Schedule(False, (0,) * n, 0, 0, ""))

    def _run(self, schedule: Schedule | None) -> None:
        self.runner.run(self.column_choices, self._prompt_sent, self.sampling, schedule)
        self._update_buttons()

    @Slot()
    def stop(self) -> None:
        if self._probing:
            self._probing = False
            self._drop_probe()
            for column in self.columns:
                column.finish(None, "Stopped before it started.")
            self.info.setText("Stopped.")
            self._update_buttons()
            self.round_finished.emit()
            return
        self.runner.stop()

    def shutdown(self) -> None:
        self._probing = False
        self._drop_probe()
        self.runner.shutdown()

    def _drop_probe(self) -> None:
        """Stopped while measuring free memory: the measurement's answer is dropped."""
        if isinstance(self._probe, TaskHandle):
            self._probe.cancel()
        self._probe = None

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
        for index, choice in enumerate(self.column_choices):
            title = f"Answer {side_by_side.column_letter(index)}" if self.blind else choice.label
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
