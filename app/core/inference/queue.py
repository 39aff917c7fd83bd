"""One model, one queue: generations run one at a time on one llama.cpp context.

``Backend`` is what the API server (and Chat, for remote connections) generates through:
``generate(messages, sampling, on_token, stop_event)`` (a chat) and ``complete(prompt, ...)``
(a raw continuation of a prompt) block their caller until the answer is complete and call
``on_token`` in the caller's own thread. ``GenerationQueue`` is the backend
of ``hearth serve``: one worker thread drives the model (a ``HostedEngine``: llama.cpp in its own
process); when that process dies, the request in progress fails and the next one loads the model
again (``reload``), so the server goes on serving. Callers from any number of threads
wait their turn. The GUI has its own backend over its inference thread (app.ui.server.panel).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from app.core.common.errors import GenerationError, HearthError
from app.core.inference.types import GenerationStats, SamplingOptions, stopped_stats

log = logging.getLogger("hearth.queue")

POLL_S = 0.05  # how often a waiting caller looks at its stop event


_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One queued generation; its results travel back to the caller through ``events``."""

    messages: list[dict[str, Any]]
    sampling: SamplingOptions
    stop: threading.Event
    prompt: str | None = None  # a raw completion of this prompt (``messages`` unused)
    texts: list[str] | None = None  # embeddings of these texts (nothing generated)
    id: int = field(default_factory=lambda: next(_ids))
    # (kind, value): "token" and its text, "done" and the stats, "error" and the exception...
    events: queue.SimpleQueue[tuple[str, Any]] = field(default_factory=queue.SimpleQueue)

    def token(self, text: str) -> None:
        self.events.put(("token", text))

    def finish(self, stats: GenerationStats) -> None:
        self.events.put(("done", stats))

    def result(self, value: object) -> None:
        self.events.put(("done", value))

    def fail(self, error: BaseException) -> None:
        self.events.put(("error", error))


def wait_for(
    job: Job, on_token: Callable[[str], None], cancel: Callable[[Job], None]
) -> GenerationStats:
    """In the caller's thread: pass the job's tokens to ``on_token`` until it ends.

    When the job's stop event is set (by the caller, or by ``on_token`` itself), ``cancel(job)``
    is called once so the worker can stop it at once; the job still ends with its stats.
    An exception from ``on_token`` stops the job and is raised once the job has ended.
    """
    cancelled = False
    raised: BaseException | None = None
    while True:
        try:
            kind, value = job.events.get(timeout=POLL_S)
        except queue.Empty:
            kind, value = None, None
        if kind == "token" and raised is None:
            try:
                on_token(value)
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the job ends
                raised = exc
                job.stop.set()
        if not cancelled and job.stop.is_set():
            cancelled = True
            cancel(job)
        if kind == "error":
            raise value
        if kind == "done":
            if raised is not None:
                raise raised
            return cast(GenerationStats, value)


class JobBackend:
    """``generate`` and ``complete`` of a ``Backend`` that runs each request as a ``Job``:
    a subclass gives ``_submit(job, on_token)``, which waits for the job and returns its stats."""

    def generate(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop_event: threading.Event | None = None,
    ) -> GenerationStats:
        return self._submit(
            Job(list(messages), sampling, stop_event or threading.Event()), on_token
        )

    def complete(
        self,
        prompt: str,
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop_event: threading.Event | None = None,
    ) -> GenerationStats:
        return self._submit(
            Job([], sampling, stop_event or threading.Event(), prompt=prompt), on_token
        )

    def _submit(self, job: Job, on_token: Callable[[str], None]) -> GenerationStats:
        raise NotImplementedError


@dataclass(frozen=True)
class Span:
    """When one generation held the engine (``time.monotonic()`` seconds)."""

    job: int
    started: float
    ended: float
    tokens: int
    stop_reason: str


class GenerationQueue(JobBackend):
    """A ``Backend`` over an engine (``HostedEngine`` or ``Engine``): a single worker thread
    runs the queued jobs in order. ``reload()``, when given, loads the model again before a job
    that finds none loaded (its host died with an earlier request)."""

    def __init__(
        self, engine: Any, name: str = "", reload: Callable[[], object] | None = None
    ) -> None:
        self._engine = engine
        self._name = name
        self._reload = reload
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._active: Job | None = None
        self._closed = False
        self.spans: deque[Span] = deque(maxlen=200)  # the most recent generations, oldest first
        self._thread = threading.Thread(target=self._run, name="hearth-generation")
        self._thread.start()

    def model_name(self) -> str:
        if self._name:
            return self._name
        loaded = self._engine.loaded
        return loaded.path.stem if loaded else ""

    def context_size(self) -> int:
        loaded = self._engine.loaded
        return loaded.n_ctx if loaded else 0

    def reads_images(self) -> bool:
        """False when the model is loaded without an image projector: the API server refuses
        images before they wait their turn. (Not loaded, its host died: the reload tells.)"""
        loaded = self._engine.loaded
        return loaded is None or loaded.has_vision

    def _submit(self, job: Job, on_token: Callable[[str], None]) -> GenerationStats:
        with self._lock:
            if self._closed:
                raise GenerationError("The server is stopping; no new answers are started.")
            self._jobs.put(job)
        return wait_for(job, on_token, self._cancel)

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Embeddings of ``texts`` and the tokens they took, made by the worker thread (the
        engine is its alone) in turn with the answers."""
        job = Job([], SamplingOptions(), threading.Event(), texts=list(texts))
        with self._lock:
            if self._closed:
                raise GenerationError("The server is stopping; nothing new is started.")
            self._jobs.put(job)
        kind, value = job.events.get()
        if kind == "error":
            raise value
        return cast("tuple[list[list[float]], int]", value)

    def close(self) -> None:
        """Stop the generation in progress, refuse the waiting ones, end the worker thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._active is not None:
                self._active.stop.set()
                self._engine.request_stop()
            self._jobs.put(None)
        self._thread.join()

    def _cancel(self, job: Job) -> None:
        with self._lock:
            # Only the job running now is stopped on the engine; a waiting one is skipped
            # when its turn comes. (Engine.chat clears a stale stop flag when it starts.)
            if job is self._active:
                self._engine.request_stop()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                break
            with self._lock:
                if self._closed:
                    job.fail(GenerationError("The server stopped before this answer started."))
                    continue
                self._active = job
            self._work(job)
            with self._lock:
                self._active = None

    def _work(self, job: Job) -> None:
        if job.stop.is_set():
            job.finish(stopped_stats())
            return
        started = time.monotonic()
        try:
            if self._engine.loaded is None and self._reload is not None:
                log.info("The model is not loaded (its process ended): loading it again")
                self._reload()
            if job.texts is not None:
                job.result(self._engine.embed(job.texts))
                return
            if job.prompt is not None:
                stats = self._engine.complete(job.prompt, job.sampling, job.token, job.stop)
            else:
                stats = self._engine.chat(job.messages, job.sampling, job.token, job.stop)
        except Exception as exc:
            if not isinstance(exc, HearthError):
                log.exception("Generation failed")
            job.fail(exc)
            return
        self.spans.append(Span(job.id, started, time.monotonic(), stats.tokens, stats.stop_reason))
        job.finish(stats)
