"""The inference worker: a QObject living in its own QThread, and the GUI-side facade owning it.

Requests go in through queued signals to the worker's slots; results come out as signals that
carry plain data. The worker never touches widgets or models. Stop is a thread-safe flag on
the engine, checked on every streamed token (and by llama.cpp's abort callback).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.core.engine import Engine, GenerationStats, LoadedModel, LoadOptions, SamplingOptions
from app.core.errors import HearthError

log = logging.getLogger("hearth.ui.chat")


class ChatWorker(QObject):
    loaded = Signal(object)  # LoadedModel
    load_failed = Signal(str)
    token = Signal(str)
    finished = Signal(object)  # GenerationStats
    failed = Signal(str)
    unloaded = Signal()

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    @Slot(str, object)
    def load(self, path: str, options: LoadOptions) -> None:
        try:
            self.loaded.emit(self.engine.load(Path(path), options))
        except HearthError as exc:
            self.load_failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - never let the worker thread die silently
            log.exception("Loading failed")
            self.load_failed.emit(f"Loading failed: {exc}")

    @Slot(object, object)
    def generate(self, messages: list, sampling: SamplingOptions) -> None:
        try:
            stats = self.engine.chat(messages, sampling, self.token.emit)
        except HearthError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001
            log.exception("Generation failed")
            self.failed.emit(f"Generation failed: {exc}")
        else:
            self.finished.emit(stats)

    @Slot()
    def unload(self) -> None:
        self.engine.unload()
        self.unloaded.emit()


class ChatSession(QObject):
    """GUI-side owner of the worker thread. Widgets talk to this, never to the worker."""

    loaded = Signal(object)
    load_failed = Signal(str)
    token = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    busy_changed = Signal(bool)

    _load_requested = Signal(str, object)
    _generate_requested = Signal(object, object)
    _unload_requested = Signal()

    def __init__(self, engine: Engine | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine = engine or Engine()
        self._thread = QThread()
        self._thread.setObjectName("hearth-inference")
        self._worker = ChatWorker(self._engine)
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._load_requested.connect(self._worker.load)
        self._generate_requested.connect(self._worker.generate)
        self._unload_requested.connect(self._worker.unload, Qt.BlockingQueuedConnection)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.load_failed.connect(self._on_load_failed)
        self._worker.token.connect(self.token)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._busy = False
        self.model: LoadedModel | None = None
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._busy

    def load(self, path: Path, options: LoadOptions) -> None:
        self._set_busy(True)
        self._load_requested.emit(str(path), options)

    def send(self, messages: list[dict], sampling: SamplingOptions) -> None:
        self._set_busy(True)
        self._generate_requested.emit(messages, sampling)

    def stop(self) -> None:
        self._engine.request_stop()

    def shutdown(self) -> None:
        """Stop any generation, unload the model in its thread, end the thread."""
        if not self._thread.isRunning():
            return
        self._engine.request_stop()
        self._unload_requested.emit()
        self._thread.quit()
        self._thread.wait()

    @Slot(object)
    def _on_loaded(self, model: LoadedModel) -> None:
        self.model = model
        self._set_busy(False)
        self.loaded.emit(model)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.model = None
        self._set_busy(False)
        self.load_failed.emit(message)

    @Slot(object)
    def _on_finished(self, stats: GenerationStats) -> None:
        self._set_busy(False)
        self.finished.emit(stats)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._set_busy(False)
        self.failed.emit(message)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
