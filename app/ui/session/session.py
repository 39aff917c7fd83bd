"""The inference worker: a QObject living in its own QThread, and the GUI-side facade owning it.

Requests go in through queued signals to the worker's slots; results come out as signals that
carry the request's id and plain data, and ``ChatSession`` hands each to that request's ``Reply``
(app.ui.session.reply). The worker never touches widgets or models. Stop and cancel are thread-safe
events (each reply's own, and a load-cancel Event), so they work while the worker is busy.

The worker answers with a ``HostedEngine`` (the model runs in its own process: a llama.cpp
abort or crash ends that process, not Hearth) or, after ``use_remote``, with a ``RemoteBackend``
(the same ``chat``/``fit_messages`` surface) for a model on a saved connection; loading a local
model switches it back.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.common.errors import (
    ContextFullError,
    HearthError,
    LoadCancelled,
    ModelCrashed,
    RemoteError,
    UnsupportedRequest,
)
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.model_choice import PROBE_TIMEOUT_S, ModelChoice
from app.core.inference.remote import RemoteBackend, list_models
from app.core.inference.text_batcher import TextBatcher
from app.core.inference.types import (
    GenerationStats,
    LoadedModel,
    LoadOptions,
    SamplingOptions,
    stopped_stats,
)
from app.ui.common.tasks import message_of, wait_thread
from app.ui.session.reply import Reply

log = logging.getLogger("hearth.ui.session")


class ChatWorker(QObject):
    load_progress = Signal(float)
    loaded = Signal(object)  # LoadedModel
    load_failed = Signal(str, bool)  # message, cancelled by the user
    token = Signal(int, str)  # request id, a chunk of the answer
    finished = Signal(int, object)  # request id, GenerationStats
    failed = Signal(int, str)
    refused = Signal(int, str)  # request id; it asked what the model cannot do as asked
    context_full = Signal(int, int, int)  # request id, tokens needed, context size
    model_lost = Signal(str)  # the local model's host died: it is no longer loaded
    remote_ready = Signal(object)  # ModelChoice
    remote_failed = Signal(str)

    def __init__(self, engine: HostedEngine, load_cancel: threading.Event) -> None:
        super().__init__()
        self.local = engine
        self.engine: HostedEngine | RemoteBackend = engine  # what answers: local, or remote
        self.load_cancel = load_cancel

    @Slot(object, object)
    def use_remote(self, choice: ModelChoice, backend: RemoteBackend) -> None:
        """Answer with ``backend`` from now on, once its server lists the model; the local
        model is unloaded then. When the server cannot be used, nothing changes."""
        try:
            models = list_models(backend.connection, min(backend.timeout, PROBE_TIMEOUT_S))
            if backend.model not in models:
                raise RemoteError(
                    f"{backend.connection.name} no longer offers the model "
                    f"'{backend.model}'. Choose another one."
                )
        except HearthError as exc:
            self.remote_failed.emit(str(exc))
            return
        self.local.unload()
        self.engine = backend
        self.remote_ready.emit(choice)

    @Slot(str, object)
    def load(self, path: str, options: LoadOptions) -> None:
        self.engine = self.local
        self.load_cancel.clear()
        try:
            model = self.engine.load(
                Path(path), options, progress=self.load_progress.emit, cancel=self.load_cancel
            )
        except LoadCancelled as exc:
            self.load_failed.emit(str(exc), True)
        except Exception as exc:  # noqa: BLE001 - never let the worker thread die silently
            self.load_failed.emit(message_of(exc, "Loading"), False)
        else:
            self.loaded.emit(model)

    @Slot(int, object, object, bool, object)
    def generate(
        self,
        request_id: int,
        messages: list,
        sampling: SamplingOptions,
        drop_oldest: bool,
        stop: threading.Event,
    ) -> None:
        reserve = min(sampling.max_tokens, 256) if drop_oldest else None

        def answer(on_text):
            engine = self.engine
            if isinstance(engine, RemoteBackend):
                fitted = engine.fit_messages(messages, reserve) if drop_oldest else messages
                return engine.chat(fitted, sampling, on_text, stop)
            # Dropping old turns runs in the host too, where Stop can end it.
            return engine.chat(messages, sampling, on_text, stop, reserve=reserve)

        self._stream(request_id, stop, answer)

    @Slot(int, str, object, object)
    def complete(
        self, request_id: int, prompt: str, sampling: SamplingOptions, stop: threading.Event
    ) -> None:
        """A raw continuation of ``prompt`` (the API server's completions), with the same
        signals as ``generate``."""

        def answer(on_text):
            engine = self.engine
            if isinstance(engine, RemoteBackend):  # it is asked through the chat API only
                raise UnsupportedRequest(
                    "The model in use runs on another server, which Hearth asks for chat "
                    "answers only: send a chat instead of a raw completion."
                )
            return engine.complete(prompt, sampling, on_text, stop)

        self._stream(request_id, stop, answer)

    def _stream(self, request_id: int, stop: threading.Event, run) -> None:
        """Run ``run(on_text)``, the answer's text going out as ``token`` chunks, then one of
        finished / context_full / failed, each with ``request_id``."""
        if stop.is_set():  # stopped while it waited for its turn
            self.finished.emit(request_id, stopped_stats())
            return
        try:
            batcher = TextBatcher(lambda text: self.token.emit(request_id, text))
            try:
                stats = run(batcher.add)
            finally:
                batcher.flush()  # before finished/failed: every token reaches the GUI first
        except ContextFullError as exc:
            self.context_full.emit(request_id, exc.used, exc.limit)
        except ModelCrashed as exc:
            if self.engine is self.local:  # first: whoever hears of the failure sees no model
                self.model_lost.emit(str(exc))
            self.failed.emit(request_id, str(exc))
        except UnsupportedRequest as exc:
            self.refused.emit(request_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - never let the worker thread die silently
            self.failed.emit(request_id, message_of(exc, "Generation"))
        else:
            self.finished.emit(request_id, stats)

    @Slot()
    def close(self) -> None:
        """Unload, then end this worker's thread (its event loop stops after this slot)."""
        self.local.unload()
        QThread.currentThread().quit()


class ChatSession(QObject):
    """GUI-side owner of the worker thread. Widgets talk to this, never to the worker.

    ``send`` and ``send_completion`` return a ``Reply`` whose signals concern that request
    only; requests run one at a time, in order. The session is ``busy`` while a model loads or
    any request is unanswered.
    """

    load_progress = Signal(float)
    loaded = Signal(object)
    load_failed = Signal(str, bool)
    model_lost = Signal(str)  # the local model's process died; nothing is loaded now
    busy_changed = Signal(bool)
    sent = Signal(object)  # a Reply, as each request is sent (for watchers: logs, tests)
    remote_ready = Signal(object)  # ModelChoice: the chat now answers with this remote model
    remote_failed = Signal(str)  # the remote model could not be used; nothing changed
    closed = Signal()  # the thread has ended (after ``close`` or ``shutdown``)

    _load_requested = Signal(str, object)
    _remote_requested = Signal(object, object)
    _generate_requested = Signal(int, object, object, bool, object)
    _complete_requested = Signal(int, str, object, object)
    _close_requested = Signal()

    def __init__(self, engine: HostedEngine | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine or HostedEngine()
        self._load_cancel = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName("hearth-inference")
        self._worker = ChatWorker(self.engine, self._load_cancel)
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._load_requested.connect(self._worker.load)
        self._remote_requested.connect(self._worker.use_remote)
        self._worker.remote_ready.connect(self._on_remote_ready)
        self._worker.remote_failed.connect(self._on_remote_failed)
        self._generate_requested.connect(self._worker.generate)
        self._complete_requested.connect(self._worker.complete)
        self._close_requested.connect(self._worker.close)
        self._thread.finished.connect(self.closed)
        self._worker.load_progress.connect(self.load_progress)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.load_failed.connect(self._on_load_failed)
        self._worker.token.connect(self._on_token)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.refused.connect(self._on_refused)
        self._worker.context_full.connect(self._on_context_full)
        self._worker.model_lost.connect(self._on_model_lost)
        self._replies: dict[int, Reply] = {}  # sent, not yet ended
        self._busy = False
        self.loading = False
        self.model: LoadedModel | None = None
        self.remote: ModelChoice | None = None  # the remote model in use, when not local
        self._remote_backend: RemoteBackend | None = None
        self._pending_remote: RemoteBackend | None = None
        self._closing = False
        # The thread starts with the first request: a window whose construction fails after
        # creating its session must not leave a running QThread behind (Qt aborts then).

    def _start_thread(self) -> None:
        if not self._thread.isRunning() and not self._closing:
            self._thread.start()

    @property
    def busy(self) -> bool:
        return self._busy

    def load(self, path: Path, options: LoadOptions) -> None:
        """Load a model; the one loaded before is unloaded first (in the worker)."""
        self.model = None
        self.remote = self._remote_backend = None
        self.loading = True
        self._update_busy()
        self._start_thread()
        self._load_requested.emit(str(path), options)

    def use_remote(self, choice: ModelChoice) -> None:
        """Chat with a model on a saved connection (checked first: ``remote_ready`` or
        ``remote_failed`` follows)."""
        self._pending_remote = choice.backend()
        self.loading = True
        self._update_busy()
        self._start_thread()
        self._remote_requested.emit(choice, self._pending_remote)

    def cancel_load(self) -> None:
        self._load_cancel.set()

    def send(
        self, messages: list[dict], sampling: SamplingOptions, drop_oldest: bool = False
    ) -> Reply:
        """Answer ``messages``; with ``drop_oldest`` the oldest turns are dropped until the
        chat fits the context."""
        reply = self._open_reply()
        self._generate_requested.emit(reply.id, messages, sampling, drop_oldest, reply.stop_event)
        return reply

    def send_completion(self, prompt: str, sampling: SamplingOptions) -> Reply:
        """Continue ``prompt`` as it stands (no chat template); answered like ``send``."""
        reply = self._open_reply()
        self._complete_requested.emit(reply.id, prompt, sampling, reply.stop_event)
        return reply

    def stop(self, reply: Reply | None = None) -> None:
        """Stop ``reply``, or every request when None (before loading another model)."""
        for one in [reply] if reply is not None else list(self._replies.values()):
            one.stop()

    def shutdown(self) -> None:
        """Stop any generation or load, have the worker unload the model and end its thread,
        and wait for that a bounded time: for quitting the app. A model that hangs is left
        behind (said in the log) rather than holding the window open."""
        if not self._thread.isRunning():
            return
        self.stop()
        self._load_cancel.set()
        if not self._closing:  # else the worker ends its thread itself
            self._close_requested.emit()
        wait_thread(self._thread, "inference", keep=(self._worker,))

    def close(self) -> None:
        """``shutdown`` without waiting: the worker stops, unloads and ends its thread in the
        background, and ``closed`` follows. The GUI thread never waits on the model."""
        if self._closing:
            return
        self._closing = True
        self.model = None
        self.remote = None
        if not self._thread.isRunning():
            self.closed.emit()
            return
        self.stop()
        self._load_cancel.set()
        self._close_requested.emit()

    def _open_reply(self) -> Reply:
        reply = Reply()  # no parent: it lives while the session or its sender holds it
        self._start_thread()
        self._replies[reply.id] = reply
        self._update_busy()
        self.sent.emit(reply)
        return reply

    def _end_reply(self, request_id: int, signal_name: str, *args) -> None:
        """The request ended: its reply emits ``signal_name`` with ``args``, then ``ended``."""
        reply = self._replies.pop(request_id, None)
        self._update_busy()
        if reply is not None:
            reply.done = True
            getattr(reply, signal_name).emit(*args)
            reply.ended.emit(reply)

    @Slot(int, str)
    def _on_token(self, request_id: int, text: str) -> None:
        reply = self._replies.get(request_id)
        if reply is not None:
            reply.token.emit(text)

    @Slot(int, object)
    def _on_finished(self, request_id: int, stats: GenerationStats) -> None:
        self._end_reply(request_id, "finished", stats)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        self._end_reply(request_id, "failed", message)

    @Slot(int, str)
    def _on_refused(self, request_id: int, message: str) -> None:
        """Failed as any request does, marked as the request's own doing."""
        reply = self._replies.get(request_id)
        if reply is not None:
            reply.unsupported = True
        self._end_reply(request_id, "failed", message)

    @Slot(int, int, int)
    def _on_context_full(self, request_id: int, used: int, limit: int) -> None:
        self._end_reply(request_id, "context_full", used, limit)

    @Slot(str)
    def _on_model_lost(self, message: str) -> None:
        self.model = None
        self.model_lost.emit(message)

    @Slot(object)
    def _on_loaded(self, model: LoadedModel) -> None:
        self.model = model
        self.loading = False
        self._update_busy()
        self.loaded.emit(model)

    @Slot(object)
    def _on_remote_ready(self, choice: ModelChoice) -> None:
        self.model = None
        self.remote, self._remote_backend = choice, self._pending_remote
        self.loading = False
        self._update_busy()
        self.remote_ready.emit(choice)

    @Slot(str)
    def _on_remote_failed(self, message: str) -> None:
        self._pending_remote = None
        self.loading = False
        self._update_busy()
        self.remote_failed.emit(message)

    @Slot(str, bool)
    def _on_load_failed(self, message: str, cancelled: bool) -> None:
        self.model = None
        self.loading = False
        self._update_busy()
        self.load_failed.emit(message, cancelled)

    def _update_busy(self) -> None:
        busy = self.loading or bool(self._replies)
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
