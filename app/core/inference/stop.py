"""``StopEvent``: a stop flag that also wakes whoever is blocked on a read.

A ``threading.Event`` can only be polled or waited on, one at a time. A remote answer is read
from a socket that may stay silent for seconds (the server reading a long prompt), so a plain
flag would be seen only when the next chunk came, or needed a thread polling it per request
(Hearth had one: 20 wake-ups a second per answer). ``StopEvent.set()`` runs the callbacks
registered with ``on_set`` in the setting thread, so the reader can have its socket shut the
moment a stop is asked, and nothing polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class StopEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def set(self) -> None:
        with self._lock:
            super().set()  # inside the lock: on_set sees the flag set, or its callback runs
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when the flag is set (at once if it is); returns the function that
        takes it back."""
        with self._lock:
            if not self.is_set():
                self._callbacks.append(callback)
                return lambda: self._forget(callback)
        callback()
        return lambda: None

    def _forget(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)
