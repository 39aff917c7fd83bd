"""``SessionBackend``: the API server's requests answered by the GUI's own inference thread.

The GUI and the server share the one loaded model. Requests from the server's connection
threads are handed to the GUI thread by a queued signal and wait in a FIFO; one is sent to the
``ChatSession`` only while it is idle (no chat answer, no model loading), and while it runs the
session is busy, so the chat waits its turn too. Each request is its own ``Reply``: the chat page
neither sees its tokens nor can stop it. Results travel back to the connection thread
through the job's own queue: the GUI thread never blocks, and a connection thread never
touches Qt objects other than by emitting a signal.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.core.common.errors import ContextFullError, GenerationError, UnsupportedRequest
from app.core.inference.queue import Job, JobBackend, wait_for
from app.core.inference.types import GenerationStats, stopped_stats
from app.ui.session.reply import Reply
from app.ui.session.session import ChatSession

log = logging.getLogger("hearth.ui.server")


class SessionBackend(QObject, JobBackend):
    """A ``Backend`` (app.core.inference.queue) over a ``ChatSession``."""

    _submitted = Signal(object)  # Job, from a connection thread
    _cancelled = Signal(object)  # Job, from a connection thread
    _pump_requested = Signal()

    def __init__(self, session: ChatSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._pending: deque[Job] = deque()
        self._active: Job | None = None
        self._reply: Reply | None = None  # the active job's
        self._closed = threading.Event()
        self._submitted.connect(self._on_submitted, Qt.ConnectionType.QueuedConnection)
        self._cancelled.connect(self._on_cancelled, Qt.ConnectionType.QueuedConnection)
        # Queued: runs once the signal that freed the session has reached every listener.
        self._pump_requested.connect(self._pump, Qt.ConnectionType.QueuedConnection)
        session.busy_changed.connect(self._on_busy_changed)

    # -- Backend (called from connection threads) ------------------------------------------
    def model_name(self) -> str:
        model = self._session.model
        return model.path.stem if model is not None else ""

    def context_size(self) -> int:
        model = self._session.model
        return model.n_ctx if model is not None else 0

    def reads_images(self) -> bool:
        """False when the local model is loaded without an image projector (the API server
        refuses images then); a remote model's server answers for itself."""
        model = self._session.model
        return model is None or model.has_vision

    def _submit(self, job: Job, on_token: Callable[[str], None]) -> GenerationStats:
        if QThread.currentThread() == self.thread():
            raise RuntimeError("SessionBackend would block the GUI thread")
        if self._closed.is_set():
            raise GenerationError("The server is stopping; no new answers are started.")
        self._submitted.emit(job)
        return wait_for(job, on_token, self._cancelled.emit)

    # -- life (GUI thread) -------------------------------------------------------------------
    def open(self) -> None:
        """Accept requests again after ``close()``."""
        self._closed.clear()

    def close(self) -> None:
        """End every request now: waiting ones are refused, the running one is stopped and its
        caller released at once (the session's late results for it are ignored)."""
        self._closed.set()
        while self._pending:
            self._pending.popleft().fail(GenerationError("The server stopped."))
        if self._active is not None:
            self._session.stop(self._reply)
            self._active.finish(stopped_stats())

    @property
    def waiting(self) -> int:
        """Requests waiting for their turn (GUI thread)."""
        return len(self._pending)

    # -- slots (GUI thread) ------------------------------------------------------------------
    @Slot(object)
    def _on_submitted(self, job: Job) -> None:
        if self._closed.is_set():
            job.fail(GenerationError("The server stopped."))
            return
        self._pending.append(job)
        self._pump()

    @Slot(object)
    def _on_cancelled(self, job: Job) -> None:
        if job is self._active:
            self._session.stop(self._reply)
        elif job in self._pending:
            self._pending.remove(job)
            job.finish(stopped_stats())

    @Slot()
    def _pump(self) -> None:
        """Start the next waiting request if the session is free."""
        session = self._session
        while self._active is None and self._pending and not (session.busy or session.loading):
            job = self._pending.popleft()
            if job.stop.is_set():
                job.finish(stopped_stats())
            elif session.model is None:
                job.fail(GenerationError("No model is loaded in Hearth: load one first."))
            else:
                self._active = job
                if job.prompt is not None:
                    reply = session.send_completion(job.prompt, job.sampling)
                else:
                    reply = session.send(job.messages, job.sampling)
                self._reply = reply
                reply.token.connect(self._on_token)
                reply.finished.connect(self._on_finished)
                reply.failed.connect(self._on_failed)
                reply.context_full.connect(self._on_context_full)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        if not busy and self._pending:
            self._pump_requested.emit()

    @Slot(str)
    def _on_token(self, text: str) -> None:
        if self._active is not None:
            self._active.token(text)

    @Slot(object)
    def _on_finished(self, stats: GenerationStats) -> None:
        self._end(lambda job: job.finish(stats))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        unsupported = self._reply is not None and self._reply.unsupported
        error = UnsupportedRequest(message) if unsupported else GenerationError(message)
        self._end(lambda job: job.fail(error))

    @Slot(int, int)
    def _on_context_full(self, used: int, limit: int) -> None:
        self._end(lambda job: job.fail(ContextFullError(used, limit)))

    def _end(self, deliver: Callable[[Job], None]) -> None:
        """The active request's reply ended: hand the result over."""
        job, self._active, self._reply = self._active, None, None
        if job is None:
            return
        deliver(job)  # after close() the caller has gone: this lands in a dropped queue
        if self._pending:
            self._pump_requested.emit()
