"""Making a quant off the GUI thread: ``make_quant`` on the thread pool, progress by signals.

``QuantJob.start()`` runs the plan; ``cancel()`` is thread-safe (it sets the Event that
``make_quant`` polls, which terminates the quantizer's child process and removes the partial
file). Results come back as plain data: ``progress(done, total, message)``, ``finished(path)``,
``failed(message)``, ``cancelled(message)``.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.core.common.errors import HearthError, QuantizeCancelled
from app.core.quants.quantize import QuantPlan, make_quant

log = logging.getLogger("hearth.ui.quantize")


class QuantSignals(QObject):
    progress = Signal(object, object, str)  # bytes written, bytes expected (may pass 2**31)
    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal(str)


class _Run(QRunnable):
    def __init__(self, plan: QuantPlan, cancel: threading.Event, signals: QuantSignals) -> None:
        super().__init__()
        self.plan, self.cancel, self.signals = plan, cancel, signals

    def run(self) -> None:
        try:
            result = make_quant(self.plan, progress=self.signals.progress.emit, cancel=self.cancel)
        except QuantizeCancelled as exc:
            self.signals.cancelled.emit(str(exc))
        except HearthError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, logged with its trace
            log.exception("Making a quant failed")
            self.signals.failed.emit(f"Making the quant failed: {exc}")
        else:
            self.signals.finished.emit(str(result.path))


class QuantJob(QObject):
    """``pool``: where it runs; a quant takes minutes, so not the global pool that short jobs
    (Hub calls, scans) share."""

    def __init__(self, plan: QuantPlan, pool: QThreadPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.plan = plan
        self._pool = pool
        self.signals = QuantSignals(self)
        self._cancel = threading.Event()

    def start(self) -> None:
        self._pool.start(_Run(self.plan, self._cancel, self.signals))

    def cancel(self) -> None:
        self._cancel.set()
