"""``Reply``: one request to a model (a chat answer or a raw completion) and its results.

``ChatSession.send`` returns one; its signals concern that request only, and ``stop()`` stops
that request only: the chat page cannot stop an API client's answer, nor see its tokens. The
stop is a ``StopEvent`` (a ``threading.Event``) handed down to the engine, which checks it while
the chat is prepared (dropping old turns, applying the template), inside llama.cpp's prompt
decode and between tokens; a remote backend has it shut the answer's socket at once.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import QObject, Signal

from app.core.inference.stop import StopEvent

_ids = itertools.count(1)


class Reply(QObject):
    token = Signal(str)  # a chunk of the answer: the tokens of the last ~30 ms, joined
    finished = Signal(object)  # GenerationStats
    failed = Signal(str)
    context_full = Signal(int, int)  # tokens needed, context size
    ended = Signal(object)  # this reply, after any of the three above

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.id = next(_ids)
        self.stop_event = StopEvent()
        self.done = False
        self.unsupported = False  # failed asking what the model cannot do (the API says 400)

    def stop(self) -> None:
        """Stop this request (thread-safe); it still ends with ``finished`` (stop reason
        "user") or, when it had not started, at once with no tokens."""
        self.stop_event.set()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()
