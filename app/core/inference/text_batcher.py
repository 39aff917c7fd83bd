"""``TextBatcher``: streamed pieces of text joined into chunks, at most one chunk per interval.

The inference worker produces a token every ~10 ms on a small model. Handing each one to the
GUI thread costs a queued signal, a chat-store write and a transcript append per token, and the
GUI thread takes the interpreter lock for each, slowing generation. Batching hands the GUI a
chunk at most every ``interval`` seconds (the first piece at once, so time to first token is
unchanged); ``flush()`` delivers what is left when the answer ends or stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable

INTERVAL_S = 0.03


class TextBatcher:
    def __init__(
        self,
        emit: Callable[[str], None],
        interval: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._interval = interval
        self._clock = clock
        self._parts: list[str] = []
        self._last: float | None = None

    def add(self, text: str) -> None:
        self._parts.append(text)
        now = self._clock()
        if self._last is None or now - self._last >= self._interval:
            self._send(now)

    def flush(self) -> None:
        if self._parts:
            self._send(self._clock())

    def _send(self, now: float) -> None:
        self._last = now
        text = "".join(self._parts)
        self._parts.clear()
        self._emit(text)
