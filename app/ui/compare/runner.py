"""Runs one prompt through 2-4 models, each in its own ``ChatSession`` (its own thread).

A ``Lane`` is one model (a ``ModelChoice``): a local one loads when needed, a remote one is
checked on its server (``ChatSession.use_remote``); then it sends the prompt and reports with
its column index. Each local model runs in its own host process (``HostedEngine``), so a model
that makes llama.cpp abort fails its own column only. ``CompareRunner`` starts every lane at once, or the local ones one after
another (each unloaded once it has answered, to free its memory for the next) when
``Schedule.together`` is false; remote lanes use no memory here and always start at once.
Stop stops them all; lanes not started yet are skipped. Everything here lives in the GUI thread; the
models run in the sessions' worker threads, and are unloaded there: the GUI never waits for it
(except when the app quits, ``shutdown``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.core.compare.side_by_side import N_CTX, Schedule
from app.core.inference.engine import Engine
from app.core.inference.model_choice import ModelChoice
from app.core.inference.types import AUTO_LAYERS, LoadedModel, LoadOptions, SamplingOptions
from app.ui.session.session import ChatSession

log = logging.getLogger("hearth.ui.compare")

# Makes a column's own model host (``Services.new_session``): two models answer at once, so
# each column has a session of its own, not the one Chat and the API server share.
SessionFactory = Callable[[QObject], ChatSession]


class Lane(QObject):
    status = Signal(int, str)
    started = Signal(int)  # the first token is about to come: the column begins its answer
    token = Signal(int, str)
    done = Signal(int, object, str)  # index, GenerationStats or None, message ("" when fine)
    released = Signal(object)  # this lane, once its model is unloaded and its thread ended

    def __init__(
        self,
        choice: ModelChoice,
        sessions: SessionFactory,
        parent: QObject | None = None,
        blind: bool = False,
    ) -> None:
        super().__init__(parent)
        self.choice, self._sessions = choice, sessions
        self.blind = blind  # the arena: the status never names the server
        self.index = 0
        self.session: ChatSession | None = None
        self._closing: ChatSession | None = None  # released, still unloading
        self._messages: list[dict] = []
        self._sampling = SamplingOptions()
        self._streaming = False
        self._percent = -1
        self._stopped = False

    @property
    def remote(self) -> bool:
        return self.choice.is_remote

    @property
    def loaded(self) -> bool:
        return self.session is not None and (
            self.session.model is not None or self.session.remote is not None
        )

    def start(
        self,
        index: int,
        messages: list[dict],
        sampling: SamplingOptions,
        gpu_layers: int = AUTO_LAYERS,
        threads: int = 0,
    ) -> None:
        self.index = index
        self._messages, self._sampling = messages, sampling
        self._stopped = False
        if self.loaded:
            self._send()
            return
        if self.session is None:
            self.session = self._sessions(self)
            self.session.load_progress.connect(self._on_load_progress)
            self.session.loaded.connect(self._on_loaded)
            self.session.load_failed.connect(self._on_load_failed)
            self.session.remote_ready.connect(self._on_remote_ready)
            self.session.remote_failed.connect(self._on_failed)
        if self.remote:
            connection = self.choice.connection
            where = connection.name if connection is not None else "the server"
            self.status.emit(
                self.index, "Loading..." if self.blind else f"Connecting to {where}..."
            )
            self.session.use_remote(self.choice)
            return
        self._percent = -1
        self.status.emit(self.index, "Loading...")
        self.session.load(
            Path(self.choice.path),
            LoadOptions(
                n_ctx=N_CTX,
                n_gpu_layers=gpu_layers,
                n_threads=threads,
                lora_path=self.choice.lora_path,
                lora_scale=self.choice.lora_scale,
            ),
        )

    def stop(self) -> None:
        self._stopped = True
        if self.session is not None:
            self.session.cancel_load()
            self.session.stop()

    def release(self) -> None:
        """Unload the model and end its thread, waiting for it (when the app quits)."""
        for session in (self.session, self._closing):
            if session is not None:
                session.shutdown()
        self.session = self._closing = None

    def release_soon(self) -> None:
        """Unload the model and end its thread in the background; ``released`` follows."""
        if self.session is None:
            self.released.emit(self)
            return
        self._closing, self.session = self.session, None
        self._closing.closed.connect(self._on_closed)
        self._closing.close()

    @Slot()
    def _on_closed(self) -> None:
        if self._closing is not None:
            self._closing.deleteLater()
            self._closing = None
            self.released.emit(self)

    def _send(self) -> None:
        self._streaming = False
        if self.session is None:  # closed meanwhile
            return
        self.status.emit(self.index, "Thinking...")
        reply = self.session.send(self._messages, self._sampling)
        reply.token.connect(self._on_token)
        reply.finished.connect(self._on_finished)
        reply.failed.connect(self._on_failed)
        reply.context_full.connect(self._on_context_full)

    @Slot(float)
    def _on_load_progress(self, value: float) -> None:
        percent = int(value * 100)
        if percent != self._percent:  # llama.cpp reports far more often than that
            self._percent = percent
            self.status.emit(self.index, f"Loading... {percent}%")

    @Slot(object)
    def _on_loaded(self, _model: LoadedModel) -> None:
        self._send()

    @Slot(object)
    def _on_remote_ready(self, _choice: ModelChoice) -> None:
        if self._stopped:  # Stop came while the server was being checked
            self.done.emit(self.index, None, "Stopped before it started.")
        else:
            self._send()

    @Slot(str, bool)
    def _on_load_failed(self, message: str, cancelled: bool) -> None:
        self.done.emit(self.index, None, "Stopped while loading." if cancelled else message)

    @Slot(str)
    def _on_token(self, text: str) -> None:
        if not self._streaming:
            self._streaming = True
            self.status.emit(self.index, "Answering...")
            self.started.emit(self.index)
        self.token.emit(self.index, text)

    @Slot(object)
    def _on_finished(self, stats) -> None:
        self.done.emit(self.index, stats, "")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.done.emit(self.index, None, message)

    @Slot(int, int)
    def _on_context_full(self, used: int, limit: int) -> None:
        self.done.emit(
            self.index,
            None,
            f"The prompt needs {used:,} tokens; this comparison "
            f"holds {limit:,}. Shorten the prompt.",
        )


class CompareRunner(QObject):
    status = Signal(int, str)
    started = Signal(int)
    token = Signal(int, str)
    done = Signal(int, object, str)  # index, GenerationStats or None, message
    all_done = Signal()
    running_changed = Signal(bool)

    def __init__(
        self, sessions: SessionFactory, parent: QObject | None = None, blind: bool = False
    ) -> None:
        super().__init__(parent)
        self.blind, self._sessions = blind, sessions
        self._lanes: dict[str, Lane] = {}  # by ModelChoice.key
        self._order: list[ModelChoice] = []
        self._pending: list[int] = []
        self._open: set[int] = set()
        self._together = True
        self._stopping = False
        self._release_queue: list[Lane] = []  # done, to release once their signal returns
        self._unloading: list[Lane] = []  # released, their models still unloading
        self._after_unload: list[Callable[[], None]] = []

    @property
    def running(self) -> bool:
        return bool(self._open)

    def loaded_paths(self) -> set[Path]:
        """The local models loaded now."""
        return {
            Path(lane.choice.path)
            for lane in self._lanes.values()
            if lane.loaded and not lane.remote
        }

    def loaded_keys(self) -> set[str]:
        return {key for key, lane in self._lanes.items() if lane.loaded}

    @property
    def unloading(self) -> bool:
        """Models are still being unloaded (their memory is not free yet)."""
        return bool(self._release_queue or self._unloading)

    def release_all(self, then: Callable[[], None]) -> None:
        """Unload every model in the background (before measuring free memory for a new set);
        ``then()`` runs once they all are unloaded."""
        lanes = list(self._lanes.values())
        self._lanes.clear()
        self._release(lanes, then)

    def run(
        self,
        choices: list[ModelChoice],
        prompt: str,
        sampling: SamplingOptions,
        schedule: Schedule | None,
    ) -> None:
        """``schedule`` None: the models are loaded already and run at once. Its
        ``gpu_layers`` has one entry per column (see ``side_by_side.with_remote``)."""
        if self.running:
            raise RuntimeError("a comparison is running")
        self._order = list(choices)
        self._together = schedule is None or schedule.together
        self._layers = (
            schedule.gpu_layers
            if schedule is not None and schedule.together
            else (AUTO_LAYERS,) * len(choices)
        )
        keys = {c.key for c in self._order}
        self._release([self._lanes.pop(key) for key in list(self._lanes) if key not in keys])
        self._messages = [{"role": "user", "content": prompt}]
        self._sampling = sampling
        self._stopping = False
        self._open = set(range(len(choices)))
        self.running_changed.emit(True)
        local = [i for i, c in enumerate(self._order) if not c.is_remote]
        self._pending = [] if self._together else local[1:]
        for index in self._pending:
            self.status.emit(index, "Waits for its turn.")
        for index in range(len(choices)):
            if index not in self._pending:
                self._start(index)

    def stop(self) -> None:
        self._stopping = True
        skipped, self._pending = self._pending, []
        for index in skipped:
            self._close(index, None, "Stopped before its turn.")
        for lane in self._lanes.values():
            lane.stop()

    def shutdown(self) -> None:
        self.stop()
        for lane in [*self._lanes.values(), *self._release_queue, *self._unloading]:
            lane.release()
        self._lanes.clear()
        self._release_queue.clear()
        self._unloading.clear()
        self._after_unload.clear()
        self._open.clear()

    def _lane(self, choice: ModelChoice) -> Lane:
        lane = self._lanes.get(choice.key)
        if lane is None:
            lane = Lane(choice, self._sessions, self, self.blind)
            lane.status.connect(self.status)
            lane.started.connect(self.started)
            lane.token.connect(self.token)
            lane.done.connect(self._on_lane_done)
            self._lanes[choice.key] = lane
        return lane

    def _start(self, index: int) -> None:
        # At once, the models share the cores: llama.cpp's threads spin while they wait for
        # each other, so more threads than cores stalls them all (see Engine.default_threads).
        local = sum(1 for c in self._order if not c.is_remote)
        threads = max(1, Engine.default_threads() // max(1, local)) if self._together else 0
        self._lane(self._order[index]).start(
            index, self._messages, self._sampling, self._layers[index], threads
        )

    @Slot(int, object, str)
    def _on_lane_done(self, index: int, stats, message: str) -> None:
        if not self._together and not self._order[index].is_remote:
            # Free this model's memory before the next loads (after this signal returns).
            self._release_queue.append(self._lanes.pop(self._order[index].key))
            QTimer.singleShot(0, self._release_and_continue)
        self._close(index, stats, message)

    @Slot()
    def _release_and_continue(self) -> None:
        lanes, self._release_queue = self._release_queue, []
        self._release(lanes, self._start_next)

    def _start_next(self) -> None:
        if self._pending and not self._stopping:
            self._start(self._pending.pop(0))

    def _release(self, lanes: list[Lane], then: Callable[[], None] | None = None) -> None:
        """Unload ``lanes`` in the background; ``then()`` once no model is unloading."""
        if then is not None:
            self._after_unload.append(then)
        self._unloading.extend(lanes)  # all of them first: a lane with nothing loaded
        for lane in lanes:  # answers at once
            lane.released.connect(self._on_released)
            lane.release_soon()
        self._run_after_unload()

    @Slot(object)
    def _on_released(self, lane: Lane) -> None:
        if lane in self._unloading:
            self._unloading.remove(lane)
            lane.deleteLater()
        self._run_after_unload()

    def _run_after_unload(self) -> None:
        if self._unloading:
            return
        waiting, self._after_unload = self._after_unload, []
        for then in waiting:
            then()

    def _close(self, index: int, stats, message: str) -> None:
        if index not in self._open:
            return
        self._open.discard(index)
        self.done.emit(index, stats, message)
        if not self._open:
            self.running_changed.emit(False)
            self.all_done.emit()
