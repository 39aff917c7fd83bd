"""Report the first paint of a window, for ``hearth bench start``.

Set ``HEARTH_START_PROBE=1`` and the studio (or the bench's bare window) prints one JSON line
on stdout once its window has painted for the first time: the wall-clock time then, the
process's resident memory and CPU time, the modules imported by then and the Qt classes
PySide6 has built (``qt_classes``: it builds a class, with all its enums, when first used):
what the start paid for; and quits. The parent counts from before it started the process, so
the figure is what a user waits for: interpreter, imports, building the window, first paint.
"""

from __future__ import annotations

import json
import os
import sys
import time

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

ENV = "HEARTH_START_PROBE"


def wanted() -> bool:
    return os.environ.get(ENV) == "1"


def rss_mib() -> float:
    """Resident memory now (Linux /proc; elsewhere the peak, which is close at start)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def loaded_qt_classes() -> list[str]:
    """The classes of QtCore, QtGui and QtWidgets that PySide6 has built so far (a class
    enters its module's namespace when first used)."""
    return sorted(
        name
        for module in (QtCore, QtGui, QtWidgets)
        for name, value in vars(module).items()
        if isinstance(value, type)
    )


class FirstPaint(QObject):
    """Watches ``window`` for its first paint; then reports and quits. Qt paints a window
    before its children, in one pass, so the report waits for the event loop's next turn:
    the whole first frame is counted.

    It watches the window alone, not the application: a filter on the application had every
    event of every object pass through Python, and handing PySide6 an object of a class it
    had not loaded yet (a dock's title button, a menu bar's extension) made it load every
    class of QtCore, QtGui and QtWidgets, ~25 ms the studio's start never pays without the
    probe, and the bare window did not pay at all."""

    def __init__(self, app: QApplication, window: QWidget) -> None:
        super().__init__(window)
        self._app, self._window, self._done = app, window, False
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if not self._done and event.type() == QEvent.Type.Paint:
            self._done = True
            QTimer.singleShot(0, self._report)
        return False

    def _report(self) -> None:
        self._window.removeEventFilter(self)
        size = self._window.size()
        line = {
            "t": time.time(),
            "cpu_s": time.process_time(),  # this process's CPU time: what a busy machine adds less to
            "rss_mib": rss_mib(),
            "size": [size.width(), size.height()],
            "modules": sorted(sys.modules),
            "qt_classes": loaded_qt_classes(),
        }
        print(json.dumps(line), flush=True)
        self._window.close()
        self._app.quit()
