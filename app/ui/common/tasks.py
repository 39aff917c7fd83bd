"""The one way the UI runs work off the GUI thread: ``run_task`` and ``run_job`` on a thread pool.

``run_task(fn, on_done, on_error, parent)`` runs ``fn()`` and calls ``on_done(result)`` or
``on_error(message)`` on the GUI thread. ``run_job`` is the same for long or cancellable jobs:
``fn(control)`` reports progress with ``control.report(value)`` (``on_progress(value)`` on the
GUI thread) and ends early when ``control.stop`` (a ``threading.Event``) is set. Both return a
:class:`TaskHandle`. What every caller gets, so that no caller writes it again:

- Errors in one place: a ``HearthError``'s message as it is (it is written for the user);
  anything else logged with its trace and said as "Something went wrong: ...".
- Emits that are safe after ``parent`` is gone: the worker emits on a relay that only this module
  owns, and the relay drops the outcome when ``parent`` was deleted meanwhile. (The relay used to
  be ``parent``'s child, deleted with it, and the worker's emit then raised "Signal source has
  been deleted" into the error hook: the user saw "Unexpected error".)
- ``handle.cancel()``: ``control.stop`` is set and the result dropped; ``on_cancelled()``
  follows once the job has ended (a quant's child process is gone, say).
- ``key``: latest only. A newer task with the same ``key`` and ``parent`` cancels the older one,
  whose result is dropped, so no caller keeps a sequence number to ignore stale answers.
- ``shutdown(timeout_ms)`` at quit: stop every task, wait a bounded time for them, and name
  in the log those left running; ``wait_thread`` does the same for a worker's own QThread.
  Inside ``quitting()`` every such wait shares one deadline, so the whole quit is bounded.
- ``LatestWriter``: a file saved from the pool each time its content changes, the newest last.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from app.core.common.errors import HearthError

log = logging.getLogger("hearth.ui.tasks")


@dataclass(frozen=True)
class _Outcome:
    result: object = None
    error: str | None = None


def message_of(exc: Exception, doing: str = "") -> str:
    """The one place an error of background work becomes a sentence for the user: a
    ``HearthError``'s own message (written for the user); anything else is a bug, logged with
    its trace and said as "<doing> failed: ..." (or "Something went wrong: ...")."""
    if isinstance(exc, HearthError):
        return str(exc)
    log.error("%s failed", doing or "Background work", exc_info=exc)
    return f"{doing} failed: {exc}" if doing else f"Something went wrong: {exc}"


def outcome_of(fn: Callable[[], object]) -> _Outcome:
    """Run ``fn`` and say how it went."""
    try:
        return _Outcome(result=fn())
    except Exception as exc:  # noqa: BLE001 - shown to the user, a bug logged with its trace
        return _Outcome(error=message_of(exc))


class JobControl:
    """What a running job sees: ``stop`` to end early, ``report`` to say how far it got."""

    def __init__(self, handle: TaskHandle) -> None:
        self.stop = handle.stop
        self._relay = handle._relay

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()

    def report(self, value: object) -> None:
        """Thread-safe; arrives as ``on_progress(value)`` on the GUI thread."""
        self._relay.progress.emit(value)


class _Relay(QObject):
    """Worker -> GUI thread. It has no parent: the handle keeps it until the job has ended, so
    the worker's emits never meet a deleted object."""

    progress = Signal(object)
    ended = Signal(object)  # _Outcome

    def __init__(self, handle: TaskHandle) -> None:
        super().__init__()
        self.handle: TaskHandle | None = handle
        self.progress.connect(self._on_progress)
        self.ended.connect(self._on_ended)

    @Slot(object)
    def _on_progress(self, value: object) -> None:
        handle = self.handle
        if handle is not None and handle.on_progress is not None and handle.wanted:
            handle.on_progress(value)

    @Slot(object)
    def _on_ended(self, outcome: _Outcome) -> None:
        handle, self.handle = self.handle, None  # no cycle kept
        if handle is not None:
            handle._ended(outcome)
        self.deleteLater()

    @Slot()
    def _on_parent_gone(self) -> None:
        if self.handle is not None:
            self.handle.stop.set()


_live: set[TaskHandle] = set()  # started and not yet ended on the GUI thread
_latest: dict[tuple[int, str], TaskHandle] = {}


class TaskHandle:
    """One background job, as the GUI thread sees it."""

    def __init__(
        self,
        name: str,
        parent: QObject,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[str], None] | None,
        on_progress: Callable[[Any], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        key: str | None = None,
    ) -> None:
        self.name = name
        self.parent: QObject | None = parent  # None once ended (see _ended)
        self.on_done, self.on_error = on_done, on_error
        self.on_progress, self.on_cancelled = on_progress, on_cancelled
        self.stop = threading.Event()  # set by cancel, by a newer task with the key, by quit
        self.finished = threading.Event()  # set on the worker thread once the job returned
        self.ended = False  # its outcome was handled (or dropped) on the GUI thread
        self.superseded = False
        self._key = None if key is None else (id(parent), key)
        self._relay = _Relay(self)
        parent.destroyed.connect(self._relay._on_parent_gone)

    def cancel(self) -> None:
        """Stop the job (cooperatively: ``control.stop``) and drop its result."""
        self.stop.set()

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()

    @property
    def wanted(self) -> bool:
        """Whether its outcome still goes to someone."""
        return not self.stop.is_set() and self.parent is not None and shiboken6.isValid(self.parent)

    def wait_finished(self, timeout_ms: int | None = None) -> bool:
        """Block until the job has returned, at most ``timeout_ms`` (default ``QUIT_WAIT_MS``):
        for closing a window whose job must clean up first. False, and said in the log, when
        it is still running then."""
        timeout_ms = wait_ms(timeout_ms)
        if self.finished.wait(timeout_ms / 1000):
            return True
        log.warning("%s still running after %d ms: not waited for", self.name, timeout_ms)
        return False

    def _start(self, fn: Callable[[JobControl], object], pool: QThreadPool) -> None:
        if self._key is not None:
            older = _latest.get(self._key)
            if older is not None:
                older.superseded = True
                older.stop.set()
            _latest[self._key] = self
        _live.add(self)
        pool.start(_Run(self, fn))

    def _ended(self, outcome: _Outcome) -> None:
        self.ended = True
        _live.discard(self)
        if self._key is not None and _latest.get(self._key) is self:
            del _latest[self._key]
        try:
            if not shiboken6.isValid(self.parent) or self.superseded:
                log.debug("Dropped the result of %s: no longer wanted", self.name)
            elif self.stop.is_set():
                if self.on_cancelled is not None:
                    self.on_cancelled()
            elif outcome.error is not None:
                if self.on_error is not None:
                    self.on_error(outcome.error)
                else:
                    log.warning("%s failed: %s", self.name, outcome.error)
            elif self.on_done is not None:
                self.on_done(outcome.result)
        finally:
            # The worker thread may let go of this handle last: it must not hold the page then
            # (its callbacks are often the page's methods); a dialog freed on a pool thread
            # crashed the process (test_connections_dialog, one run in three).
            self.parent = None
            self.on_done = self.on_error = self.on_progress = self.on_cancelled = None


class _Run(QRunnable):
    def __init__(self, handle: TaskHandle, fn: Callable[[JobControl], object]) -> None:
        super().__init__()
        self.handle = handle
        self.fn: Callable[[JobControl], object] | None = fn

    def run(self) -> None:
        handle = self.handle
        outcome = self._outcome(JobControl(handle))
        handle._relay.ended.emit(outcome)
        handle.finished.set()

    def _outcome(self, control: JobControl) -> _Outcome:
        """Run the job and let go of it (and of what it holds, often its page) before the GUI
        thread can let go of the page: a widget's last reference must not go on this thread."""
        fn, self.fn = self.fn, None
        assert fn is not None  # a runnable runs once
        return outcome_of(lambda: fn(control))


def run_job(
    fn: Callable[[JobControl], object],
    parent: QObject,
    *,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    key: str | None = None,
    name: str = "",
    pool: QThreadPool | None = None,
) -> TaskHandle:
    """Run ``fn(control)`` on ``pool`` (default: the global pool; long jobs pass
    :func:`long_jobs`). Call from the GUI thread; the callbacks run there, only while ``parent``
    (a GUI-thread QObject) exists."""
    handle = TaskHandle(
        name or getattr(fn, "__qualname__", "task"),
        parent,
        on_done,
        on_error,
        on_progress,
        on_cancelled,
        key,
    )
    handle._start(fn, pool or QThreadPool.globalInstance())
    return handle


def run_task(
    fn: Callable[[], object],
    on_done: Callable[[Any], None],
    on_error: Callable[[str], None],
    parent: QObject,
    *,
    key: str | None = None,
    name: str = "",
) -> TaskHandle:
    """Run a short job ``fn()`` (a Hub call, a scan, a file read) on the global pool."""
    return run_job(
        lambda _control: fn(),
        parent,
        on_done=on_done,
        on_error=on_error,
        key=key,
        name=name or getattr(fn, "__qualname__", "task"),
    )


class LatestWriter:
    """Saves a file on the thread pool each time its content changes, the newest content last.

    ``write(value)`` (GUI thread, never blocked by a save) keeps ``value`` as the one pending
    and starts a job; a job takes whatever is pending under a lock held while it saves, so an
    older value never lands after a newer one and a burst of changes writes once or twice, not
    once per change.
    ``write_now(value)`` saves at once on the calling thread, in the same order (at quit)."""

    def __init__(
        self,
        save: Callable[[Any], None],
        parent: QObject,
        name: str,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._save, self._parent, self._name, self._on_error = save, parent, name, on_error
        self._saving = threading.Lock()  # held while a value is saved
        self._lock = threading.Lock()  # guards _pending only: write never waits on a save
        self._pending: list[Any] = []  # at most one value
        self.task: TaskHandle | None = None  # the last job started

    def write(self, value: object) -> TaskHandle:
        with self._lock:
            self._pending[:] = [value]
        self.task = run_task(self._run, _nothing, self._failed, self._parent, name=self._name)
        return self.task

    def write_now(self, value: object) -> None:
        with self._saving:
            with self._lock:
                self._pending.clear()
            self._save(value)

    def _run(self) -> None:
        with self._saving:
            with self._lock:
                if not self._pending:
                    return  # an earlier job saved the newest value already
                value = self._pending.pop()
            self._save(value)

    def _failed(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)
        else:
            log.warning("%s: %s", self._name, message)


def _nothing(_result: object) -> None:
    pass


_long_pool: QThreadPool | None = None


def long_jobs() -> QThreadPool:
    """The pool for jobs that take minutes (a quant, a download): apart from the global pool,
    whose few threads (one per core) short jobs share."""
    global _long_pool
    if _long_pool is None:
        _long_pool = QThreadPool()
        _long_pool.setObjectName("hearth long jobs")
        _long_pool.setMaxThreadCount(8)
    return _long_pool


# How long a quit waits for background work, all of it together (pool tasks, worker threads,
# downloads): a job that ends sooner ends the wait sooner; one that hangs is left behind and
# logged. Each wait used to have 3 s of its own, and a quit with three stuck parts took 9 s.
QUIT_WAIT_MS = 3_000


class QuitBudget:
    """One deadline that every wait of a quit takes its time from."""

    def __init__(self, total_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.total_ms, self._clock = total_ms, clock
        self._end = clock() + total_ms / 1000
        self.waits: list[int] = []  # what each wait was given, in ms: for the log and tests

    def left_ms(self) -> int:
        return max(0, round((self._end - self._clock()) * 1000))


_quit: QuitBudget | None = None


@contextmanager
def quitting(
    total_ms: int | None = None, clock: Callable[[], float] = time.monotonic
) -> Iterator[QuitBudget]:
    """While the window quits: every wait (``shutdown``, ``wait_thread``, ``wait_finished``,
    :func:`wait_ms`) takes what is left of one budget of ``total_ms`` (default
    ``QUIT_WAIT_MS``), never more, so the quit is bounded however many parts hang."""
    global _quit
    outer, _quit = _quit, QuitBudget(QUIT_WAIT_MS if total_ms is None else total_ms, clock)
    try:
        yield _quit
    finally:
        _quit = outer


def wait_ms(timeout_ms: int | None = None) -> int:
    """How long a wait at quit may take: ``timeout_ms`` (default ``QUIT_WAIT_MS``), and never
    more than what is left of the quit's budget inside :func:`quitting`."""
    wanted = QUIT_WAIT_MS if timeout_ms is None else timeout_ms
    if _quit is None:
        return wanted
    given = min(wanted, _quit.left_ms())
    _quit.waits.append(given)
    return given


_abandoned: list[QThread] = []  # kept: Qt aborts the process if a running QThread is deleted
_kept: list[object] = []  # the workers living in those threads, not to be deleted under them


def wait_thread(
    thread: QThread, name: str, timeout_ms: int | None = None, keep: tuple[object, ...] = ()
) -> bool:
    """At quit, after asking ``thread`` to end: wait at most ``timeout_ms`` (default
    ``QUIT_WAIT_MS``). A thread still running then is kept alive here with ``keep`` (its
    worker), never deleted while it runs, and named in the log."""
    timeout_ms = wait_ms(timeout_ms)
    if thread.wait(timeout_ms):
        return True
    _abandoned.append(thread)
    _kept.extend(keep)
    log.warning(
        "Quitting with the %s thread still running after %d ms: not waited for", name, timeout_ms
    )
    return False


def left_running() -> bool:
    """Whether quitting left a job or a worker thread running (``shutdown``, ``wait_thread``)."""
    return bool(running()) or any(thread.isRunning() for thread in _abandoned)


def running() -> list[TaskHandle]:
    """Tasks whose job has not returned yet."""
    return [handle for handle in _live if not handle.finished.is_set()]


def shutdown(timeout_ms: int | None = None) -> list[str]:
    """At quit: stop every task, wait at most ``timeout_ms`` (default ``QUIT_WAIT_MS``) for
    them all, and return (and log) the names of those still running, which are abandoned
    rather than waited for: the window closes within that time even if a job hangs."""
    timeout_ms = wait_ms(timeout_ms)
    handles = list(_live)
    for handle in handles:
        handle.stop.set()
    deadline = time.monotonic() + timeout_ms / 1000
    for handle in handles:
        handle.finished.wait(max(0.0, deadline - time.monotonic()))
    left = sorted(handle.name for handle in handles if not handle.finished.is_set())
    if left:
        log.warning(
            "Quitting with %d background task(s) still running after %d ms, not waited for: %s",
            len(left),
            timeout_ms,
            ", ".join(left),
        )
    return left
