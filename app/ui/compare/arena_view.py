"""Blind arena: the same prompt to 2-4 models in shuffled, unlabelled columns; the user picks
the better answer (or a tie), the labels are revealed and the vote joins a tally kept in
SQLite (``app.core.compare.arena``), so the standings survive restarts.

The votes file is written and read in the background (``run_task``), never on the GUI thread:
another program holding its lock made a vote freeze the window for up to 10 s. A vote and the
standings after it are one job; Reset waits until no job is running, so a reset and a vote are
never written in the other order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.compare import side_by_side
from app.core.compare.arena import ArenaStore
from app.core.fit.estimate import Machine
from app.core.inference.model_choice import ModelChoice, adapter_suffix
from app.core.inference.remote import ConnectionStore
from app.core.inference.types import SamplingOptions
from app.ui.common.confirm import ask_yes_no
from app.ui.common.tasks import run_task
from app.ui.compare.board import CompareBoard
from app.ui.compare.runner import SessionFactory
from app.ui.compare.standings_model import StandingsModel
from app.ui.my_models.library_model import LibraryModel


def _with_adapter(quant: str | None, choice: ModelChoice) -> str | None:
    """A local column's quant, with its adapter and strength after it when it has one."""
    if not choice.lora_path:
        return quant
    return f"{quant or '?'}{adapter_suffix(choice.lora_path, choice.lora_scale)}"


class ArenaView(QWidget):
    voted = Signal(str)  # what the result line says
    standings_shown = Signal()  # the standings as the file has them, after a vote or a reset

    def __init__(
        self,
        library: LibraryModel,
        *,
        store: ArenaStore,
        machine: Callable[[], Machine],
        connections: ConnectionStore,
        sessions: SessionFactory,
        sampling: SamplingOptions | None = None,
        confirm: Callable[[QWidget, str], bool] = ask_yes_no,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.confirm = confirm
        self._saving = 0  # jobs on the votes file not finished yet
        self.board = CompareBoard(
            library,
            blind=True,
            sampling=sampling,
            machine=machine,
            connections=connections,
            sessions=sessions,
        )
        self.board.round_started.connect(self._on_round_started)
        self.board.round_finished.connect(self._on_round_finished)
        self.standings = StandingsModel(self)
        self.table = QTableView()
        self.table.setModel(self.standings)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setMaximumHeight(150)
        self.vote_buttons: list[QPushButton] = []
        self._vote_row = QHBoxLayout()
        self.question = QLabel("")
        self.result = QLabel("", wordWrap=True)
        self.result.setStyleSheet("font-weight: 600;")
        self._labels: list[str] = []
        self._voted = True

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(
            QLabel(
                "The same prompt goes to each model; the answers come back "
                "shuffled and unnamed. Pick the better one, then see which "
                "quant wrote it.",
                objectName="hint",
                wordWrap=True,
            )
        )
        layout.addWidget(self.board, 1)
        vote_line = QHBoxLayout()
        vote_line.addWidget(self.question)
        vote_line.addLayout(self._vote_row)
        vote_line.addStretch(1)
        layout.addLayout(vote_line)
        layout.addWidget(self.result)
        self.reset_button = QPushButton("Reset standings...")
        self.reset_button.setToolTip("Forget every vote so far")
        self.reset_button.clicked.connect(self.reset_standings)
        standings_line = QHBoxLayout()
        standings_line.addWidget(
            QLabel("Standings (every vote so far)", styleSheet="font-weight: 600;")
        )
        standings_line.addStretch(1)
        standings_line.addWidget(self.reset_button)
        layout.addLayout(standings_line)
        layout.addWidget(self.table)
        self.refresh_standings()

    def refresh_standings(self) -> None:
        self._on_file(self.store.tally)

    def _on_file(self, job: Callable[[], Any], done: str = "", failed: str = "") -> None:
        """Run ``job`` (ending with the tally) in the background; show the standings it
        returns and ``done``, or ``failed`` with the reason."""
        self._saving += 1
        self.reset_button.setEnabled(False)
        run_task(
            job,
            lambda standings: self._on_standings(standings, done),
            lambda problem: self._on_file_failed(f"{failed}{problem}"),
            self,
        )

    def _on_standings(self, standings: list, done: str) -> None:
        self._saving -= 1
        self.standings.set_standings(standings)
        if done:
            self.result.setText(done)
        self._enable_reset()
        self.standings_shown.emit()

    def _on_file_failed(self, problem: str) -> None:
        self._saving -= 1
        self.result.setText(problem)
        self._enable_reset()

    def _enable_reset(self) -> None:
        self.reset_button.setEnabled(not self._saving and self.standings.rowCount() > 0)

    @Slot()
    def reset_standings(self) -> None:
        """Forget every vote, once the user says so."""
        if not self.confirm(
            self, "Forget every arena vote and start the standings again? This cannot be undone."
        ):
            return
        store = self.store

        def reset() -> list:
            store.reset()
            return store.tally()

        self._on_file(
            reset,
            "Standings reset: every vote was forgotten.",
            "The standings could not be reset: ",
        )

    def shutdown(self) -> None:
        self.board.shutdown()

    # -- a round --------------------------------------------------------------------------
    @Slot()
    def _on_round_started(self) -> None:
        models = self.board.column_models
        # A remote column is labelled by its connection and model ("Workstation · model"); a
        # local one with an adapter by its quant and the adapter ("Q4_K_M + style (1.00)").
        self._labels = side_by_side.round_labels(
            [
                choice.label if model is None else (model.name, _with_adapter(model.quant, choice))
                for choice, model in zip(self.board.column_choices, models)
            ]
        )
        self._voted = False
        self.result.clear()
        self.question.setText("Answers are coming in...")
        self._build_vote_buttons(len(models))

    @Slot()
    def _on_round_finished(self) -> None:
        if all(column.answer_text().strip() for column in self.board.columns):
            self.question.setText("Which answer is better?")
            for button in self.vote_buttons:
                button.setEnabled(True)
        else:
            self.question.setText("A vote needs an answer in every column: send again.")

    def _build_vote_buttons(self, count: int) -> None:
        for button in self.vote_buttons:
            self._vote_row.removeWidget(button)
            button.deleteLater()
        self.vote_buttons = []
        letters = [side_by_side.column_letter(i) for i in range(count)]
        if count == 2:
            choices = [("A is better", 0), ("Tie", None), ("B is better", 1)]
        else:
            choices = [(f"{letter} is best", i) for i, letter in enumerate(letters)]
            choices.append(("All about the same", None))
        for text, best in choices:
            button = QPushButton(text, enabled=False)
            button.setProperty("best", -1 if best is None else best)
            button.clicked.connect(self._on_vote_clicked)
            self.vote_buttons.append(button)
            self._vote_row.addWidget(button)

    @Slot()
    def _on_vote_clicked(self) -> None:
        best = self.sender().property("best")
        self.vote(None if best < 0 else best)

    def vote(self, best: int | None) -> None:
        """Record the pick (a column index, or None for a tie) and reveal the labels."""
        if self._voted:
            return
        store, prompt = self.store, self.board.prompt_sent()
        votes = side_by_side.votes_for(self._labels, best)

        def record() -> list:
            for model_a, model_b, winner in votes:
                store.record(model_a, model_b, winner, prompt)
            return store.tally()

        self._voted = True
        for button in self.vote_buttons:
            button.setEnabled(False)
        for column, label in zip(self.board.columns, self._labels):
            column.set_title(f"{column.title.text()}: {label}")
        self.board.revealed = True
        if best is None:
            text = "A tie between " + ", ".join(self._labels) + "."
        else:
            text = f"You picked Answer {side_by_side.column_letter(best)}: {self._labels[best]}."
        self.result.setText(text)
        self.question.setText("Labels revealed. Send again for another round.")
        self._on_file(record, failed="The vote could not be saved: ")
        self.voted.emit(text)
