"""Measuring off the GUI thread: a worker on its own QThread, owned by the ``Measurer`` facade.

``Measurer.start(request)`` measures the request's files on the bundled text and, when the
request names one, on the user's own text (``app.core.measure.measurement.measure`` once per text). Out
come signals with plain data (llama.cpp runs in a host process, ``measure_in_host``, so a file
that makes it abort fails the measurement, not the studio): ``progress(step, total, message)``, then ``finished(list of
Comparison)``, ``failed(message)`` or ``cancelled(message)``. ``cancel()`` sets the core's
threading.Event, which ends the host process. ``shutdown()`` cancels,
quits and waits for the thread; call it before the window goes away.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.common.errors import MeasureCancelled
from app.core.measure.host import measure_in_host
from app.core.measure.measurement import MeasureSettings, MeasureText
from app.core.measure.store import MeasureStore
from app.ui.common.tasks import message_of, wait_thread

log = logging.getLogger("hearth.ui.measure")

STEPS = 1000  # progress is reported in thousandths of the whole job


@dataclass(frozen=True)
class MeasureRequest:
    files: tuple[str, ...]
    text_path: str | None = None  # the user's own text, measured after the bundled one
    settings: MeasureSettings = MeasureSettings()


class MeasureWorker(QObject):
    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal(str)

    def __init__(
        self, store: MeasureStore | None, work_dir: Path | None, cancel: threading.Event
    ) -> None:
        super().__init__()
        self._store = store
        self._work_dir = work_dir
        self._cancel = cancel

    @Slot(object)
    def run(self, request: MeasureRequest) -> None:
        try:
            texts = [MeasureText.bundled()]
            if request.text_path:
                texts.append(MeasureText.from_file(Path(request.text_path)))
            results = []
            for number, text in enumerate(texts):
                label = "Bundled text" if text.name == "bundled" else text.name

                def report(step: int, total: int, message: str, number=number, label=label) -> None:
                    share = (number + step / max(total, 1)) / len(texts)
                    self.progress.emit(int(share * STEPS), STEPS, f"{label}: {message}")

                results.append(
                    measure_in_host(
                        [Path(f) for f in request.files],
                        text,
                        store=self._store,
                        settings=request.settings,
                        progress=report,
                        cancel=self._cancel,
                        work_dir=self._work_dir,
                    )
                )
        except MeasureCancelled:
            self.cancelled.emit(
                "Measuring was cancelled. Files finished before the cancel "
                "are kept and will not be measured again."
            )
        except Exception as exc:  # noqa: BLE001 - shown to the user, a bug logged with its trace
            self.failed.emit(message_of(exc, "Measuring"))
        else:
            self.progress.emit(STEPS, STEPS, "Done")
            self.finished.emit(results)


class Measurer(QObject):
    """Owns the worker and its thread; lives on the GUI thread."""

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal(str)
    busy_changed = Signal(bool)
    _request = Signal(object)

    def __init__(
        self,
        store: MeasureStore | None = None,
        work_dir: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._busy = False
        self._thread = QThread()
        self._thread.setObjectName("measure")
        self._worker = MeasureWorker(store, work_dir, self._cancel)
        self._worker.moveToThread(self._thread)
        self._request.connect(self._worker.run)
        self._worker.progress.connect(self.progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def thread_running(self) -> bool:
        return self._thread.isRunning()

    def start(self, request: MeasureRequest) -> bool:
        """Queue ``request``; False (and nothing done) while a measurement runs."""
        if self._busy:
            return False
        if not self._thread.isRunning():
            self._thread.start()
        self._cancel.clear()
        self._set_busy(True)
        self._request.emit(request)
        return True

    @Slot()
    def cancel(self) -> None:
        if self._busy:
            self._cancel.set()

    def shutdown(self) -> None:
        """Stop a running measurement, then the thread, waiting a bounded time. Safe to call
        twice."""
        self._cancel.set()
        if self._thread.isRunning():
            self._thread.quit()
            wait_thread(self._thread, "measure", keep=(self._worker,))

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    @Slot(object)
    def _on_finished(self, comparisons: list) -> None:
        self._set_busy(False)
        self.finished.emit(comparisons)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._set_busy(False)
        self.failed.emit(message)

    @Slot(str)
    def _on_cancelled(self, message: str) -> None:
        self._set_busy(False)
        self.cancelled.emit(message)
