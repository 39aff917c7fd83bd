"""Short blocking jobs (Hub calls, file scans, hashing) on the global QThreadPool.

``run_task(fn, on_done, on_error)`` runs ``fn()`` off the GUI thread and delivers its result, or
its exception's message, back on the GUI thread through queued signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.core.common.errors import HearthError

log = logging.getLogger("hearth.ui.tasks")


class TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(str)


class Task(QRunnable):
    def __init__(self, fn: Callable[[], object], signals: TaskSignals) -> None:
        super().__init__()
        self._fn = fn
        self.signals = signals

    def run(self) -> None:
        try:
            result = self._fn()
        except HearthError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, logged with its trace
            log.exception("Background task failed")
            self.signals.failed.emit(f"Something went wrong: {exc}")
        else:
            self.signals.done.emit(result)


def run_task(
    fn: Callable[[], object],
    on_done: Callable[[object], None],
    on_error: Callable[[str], None],
    parent: QObject,
) -> TaskSignals:
    """Run ``fn`` in the pool; ``parent`` (a GUI-thread QObject) owns the signal relay."""
    signals = TaskSignals(parent)
    signals.done.connect(on_done)
    signals.failed.connect(on_error)
    signals.done.connect(signals.deleteLater)
    signals.failed.connect(signals.deleteLater)
    QThreadPool.globalInstance().start(Task(fn, signals))
    return signals
