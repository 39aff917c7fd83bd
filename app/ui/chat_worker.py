"""The inference worker: a QObject living in its own QThread, and the GUI-side facade owning it.

Requests go in through queued signals to the worker's slots; results come out as signals that
carry plain data. The worker never touches widgets or models. Stop and cancel are thread-safe
flags (on the engine, and a load-cancel Event) checked on every streamed token and by
llama.cpp's callbacks, so they work while the worker is busy.

The worker answers with its local ``Engine`` or, after ``use_remote``, with a ``RemoteBackend``
(the same ``chat``/``fit_messages``/``request_stop`` surface) for a model on a saved connection;
loading a local model switches it back.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.core.engine import Engine, GenerationStats, LoadedModel, LoadOptions, SamplingOptions
from app.core.errors import ContextFullError, HearthError, LoadCancelled, RemoteError
from app.core.model_choice import PROBE_TIMEOUT_S, ModelChoice
from app.core.remote import RemoteBackend, list_models
from app.core.text_batcher import TextBatcher

log = logging.getLogger("hearth.ui.chat")


class ChatWorker(QObject):
    load_progress = Signal(float)
    loaded = Signal(object)  # LoadedModel
    load_failed = Signal(str, bool)  # message, cancelled by the user
    token = Signal(str)  # a chunk of the answer: the tokens of the last ~30 ms, joined
    finished = Signal(object)  # GenerationStats
    failed = Signal(str)
    context_full = Signal(int, int)  # tokens needed, context size
    unloaded = Signal()
    remote_ready = Signal(object)  # ModelChoice
    remote_failed = Signal(str)

    def __init__(self, engine: Engine, load_cancel: threading.Event) -> None:
        super().__init__()
        self.local = engine
        self.engine: Engine | RemoteBackend = engine  # what answers: local, or a remote model
        self.load_cancel = load_cancel

    @Slot(object, object)
    def use_remote(self, choice: ModelChoice, backend: RemoteBackend) -> None:
        """Answer with ``backend`` from now on, once its server lists the model; the local
        model is unloaded then. When the server cannot be used, nothing changes."""
        try:
            models = list_models(backend.connection, min(backend.timeout, PROBE_TIMEOUT_S))
            if backend.model not in models:
                raise RemoteError(f"{backend.connection.name} no longer offers the model "
                                  f"'{backend.model}'. Choose another one.")
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
            model = self.engine.load(Path(path), options, progress=self.load_progress.emit,
                                     cancel=self.load_cancel)
        except LoadCancelled as exc:
            self.load_failed.emit(str(exc), True)
        except HearthError as exc:
            self.load_failed.emit(str(exc), False)
        except Exception as exc:  # noqa: BLE001 - never let the worker thread die silently
            log.exception("Loading failed")
            self.load_failed.emit(f"Loading failed: {exc}", False)
        else:
            self.loaded.emit(model)

    @Slot(object, object, bool)
    def generate(self, messages: list, sampling: SamplingOptions, drop_oldest: bool) -> None:
        def answer(on_text):
            fitted = messages
            if drop_oldest:
                fitted = self.engine.fit_messages(messages, reserve=min(sampling.max_tokens, 256))
            return self.engine.chat(fitted, sampling, on_text)

        self._stream(answer)

    @Slot(str, object)
    def complete(self, prompt: str, sampling: SamplingOptions) -> None:
        """A raw continuation of ``prompt`` (the API server's completions), with the same
        signals as ``generate``."""
        self._stream(lambda on_text: self.engine.complete(prompt, sampling, on_text))

    def _stream(self, run) -> None:
        """Run ``run(on_text)``, the answer's text going out as ``token`` chunks, then one of
        finished / context_full / failed."""
        try:
            batcher = TextBatcher(self.token.emit)
            try:
                stats = run(batcher.add)
            finally:
                batcher.flush()  # before finished/failed: every token reaches the GUI first
        except ContextFullError as exc:
            self.context_full.emit(exc.used, exc.limit)
        except HearthError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - never let the worker thread die silently
            log.exception("Generation failed")
            self.failed.emit(f"Generation failed: {exc}")
        else:
            self.finished.emit(stats)

    @Slot()
    def unload(self) -> None:
        self.local.unload()
        self.unloaded.emit()

    @Slot()
    def close(self) -> None:
        """Unload, then end this worker's thread (its event loop stops after this slot)."""
        self.local.unload()
        QThread.currentThread().quit()


class ChatSession(QObject):
    """GUI-side owner of the worker thread. Widgets talk to this, never to the worker."""

    load_progress = Signal(float)
    loaded = Signal(object)
    load_failed = Signal(str, bool)
    token = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    context_full = Signal(int, int)
    busy_changed = Signal(bool)
    remote_ready = Signal(object)  # ModelChoice: the chat now answers with this remote model
    remote_failed = Signal(str)  # the remote model could not be used; nothing changed
    closed = Signal()  # the thread has ended (after ``close`` or ``shutdown``)

    _load_requested = Signal(str, object)
    _remote_requested = Signal(object, object)
    _generate_requested = Signal(object, object, bool)
    _complete_requested = Signal(str, object)
    _unload_requested = Signal()
    _close_requested = Signal()

    def __init__(self, engine: Engine | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine = engine or Engine()
        self._load_cancel = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName("hearth-inference")
        self._worker = ChatWorker(self._engine, self._load_cancel)
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._load_requested.connect(self._worker.load)
        self._remote_requested.connect(self._worker.use_remote)
        self._worker.remote_ready.connect(self._on_remote_ready)
        self._worker.remote_failed.connect(self._on_remote_failed)
        self._generate_requested.connect(self._worker.generate)
        self._complete_requested.connect(self._worker.complete)
        self._unload_requested.connect(self._worker.unload, Qt.BlockingQueuedConnection)
        self._close_requested.connect(self._worker.close)
        self._thread.finished.connect(self.closed)
        self._worker.load_progress.connect(self.load_progress)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.load_failed.connect(self._on_load_failed)
        self._worker.token.connect(self.token)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.context_full.connect(self._on_context_full)
        self._busy = False
        self.loading = False
        self.model: LoadedModel | None = None
        self.remote: ModelChoice | None = None  # the remote model in use, when not local
        self._remote_backend: RemoteBackend | None = None
        self._pending_remote: RemoteBackend | None = None
        self._closing = False
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._busy

    def load(self, path: Path, options: LoadOptions) -> None:
        """Load a model; the one loaded before is unloaded first (in the worker)."""
        self.model = None
        self.remote = self._remote_backend = None
        self.loading = True
        self._set_busy(True)
        self._load_requested.emit(str(path), options)

    def use_remote(self, choice: ModelChoice) -> None:
        """Chat with a model on a saved connection (checked first: ``remote_ready`` or
        ``remote_failed`` follows)."""
        self._pending_remote = choice.backend()
        self.loading = True
        self._set_busy(True)
        self._remote_requested.emit(choice, self._pending_remote)

    def cancel_load(self) -> None:
        self._load_cancel.set()

    def send(self, messages: list[dict], sampling: SamplingOptions,
             drop_oldest: bool = False) -> None:
        self._set_busy(True)
        self._generate_requested.emit(messages, sampling, drop_oldest)

    def send_completion(self, prompt: str, sampling: SamplingOptions) -> None:
        """Continue ``prompt`` as it stands (no chat template); answered like ``send``."""
        self._set_busy(True)
        self._complete_requested.emit(prompt, sampling)

    def stop(self) -> None:
        self._engine.request_stop()
        if self._remote_backend is not None:
            self._remote_backend.request_stop()

    def shutdown(self) -> None:
        """Stop any generation or load, unload the model in its thread, end the thread, and
        wait for it: for quitting the app."""
        if not self._thread.isRunning():
            return
        self.stop()
        self._load_cancel.set()
        if not self._closing:  # else the worker ends its thread itself
            self._unload_requested.emit()
            self._thread.quit()
        self._thread.wait()

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

    @Slot(object)
    def _on_loaded(self, model: LoadedModel) -> None:
        self.model = model
        self.loading = False
        self._set_busy(False)
        self.loaded.emit(model)

    @Slot(object)
    def _on_remote_ready(self, choice: ModelChoice) -> None:
        self.model = None
        self.remote, self._remote_backend = choice, self._pending_remote
        self.loading = False
        self._set_busy(False)
        self.remote_ready.emit(choice)

    @Slot(str)
    def _on_remote_failed(self, message: str) -> None:
        self._pending_remote = None
        self.loading = False
        self._set_busy(False)
        self.remote_failed.emit(message)

    @Slot(str, bool)
    def _on_load_failed(self, message: str, cancelled: bool) -> None:
        self.model = None
        self.loading = False
        self._set_busy(False)
        self.load_failed.emit(message, cancelled)

    @Slot(object)
    def _on_finished(self, stats: GenerationStats) -> None:
        self._set_busy(False)
        self.finished.emit(stats)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._set_busy(False)
        self.failed.emit(message)

    @Slot(int, int)
    def _on_context_full(self, used: int, limit: int) -> None:
        self._set_busy(False)
        self.context_full.emit(used, limit)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
