"""One thread that writes one database, so that no window waits on the disk.

Why: the GUI thread used to write the chat history itself, with a 10 s busy timeout; another
program holding SQLite's write lock (a second Hearth, a backup tool, ``sqlite3`` in a terminal)
froze the window for up to 10 s. Now the window changes its own state in memory and hands the
write to a ``Writer``: a queue of jobs run in the order given, on one thread per database.

- Order: jobs run one after another, as submitted; each has a ``Future`` for its result.
- A job that fails for a reason that may pass (``retryable``: the file is locked, the disk is
  full) is tried again after ``retry_wait_s`` until it succeeds, holding the jobs behind it; the
  first failure of such a spell is said once through ``on_trouble`` (the window's banner), the
  end of it is logged. A job that can never succeed is dropped, logged and said the same way.
- ``close(timeout_s)`` at quit waits a bounded time for the queue to drain, then stops the
  thread between two tries (the store's busy timeout is short, so a try ends soon) and returns
  the jobs left unwritten. With a ``journal`` file they are kept there (JSON lines) and
  ``take_journal`` hands them back at the next start, to be written before anything else; a
  job is never both written and journaled, since it is journaled only once its try has ended
  without a commit.

Jobs are plain data (``Job(op, args)``) so that they can be journaled; ``apply(job)`` does
the work.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.common.json_file import Damaged, decode, keep_aside, read_limited, write_atomic

log = logging.getLogger("hearth.files")


@dataclass(frozen=True)
class Job:
    op: str  # what to do, for ``apply``: a store's method name
    args: dict[str, Any] = field(default_factory=dict)  # JSON values only

    def to_json(self) -> str:
        return json.dumps({"op": self.op, "args": self.args})


@dataclass(frozen=True)
class Closed:
    """What ``Writer.close`` left: ``unwritten`` jobs, kept in ``journal`` (None: lost)."""

    unwritten: int
    journal: Path | None

    @property
    def lost(self) -> bool:
        return bool(self.unwritten) and self.journal is None


class Writer:
    """Writes one database's jobs in order on its own thread (see the module's docstring)."""

    def __init__(
        self,
        apply: Callable[[Job], object],
        *,
        name: str,
        retryable: Callable[[BaseException], bool],
        on_trouble: Callable[[str], None] | None = None,
        journal: Path | None = None,
        retry_wait_s: float = 0.5,
    ) -> None:
        self._apply = apply
        self._retryable = retryable
        self.on_trouble = on_trouble
        self.journal = journal
        self.retry_wait_s = retry_wait_s
        self._jobs: deque[tuple[Job, Future[Any]]] = deque()
        self._busy = False  # a job is being tried
        self._stopping = False
        self._troubled = False  # a failure was said and no job succeeded since
        self._changed = threading.Condition()
        self.name = name
        self._thread = threading.Thread(target=self._run, name=f"hearth-{name}-writer")
        self._thread.start()

    def submit(self, job: Job) -> Future[Any]:
        """Queue ``job``; its ``Future`` ends with ``apply``'s result or the error that
        dropped it. After ``close`` the job goes to the journal at once and its Future fails
        (a change made during the quit, by a late signal, is kept for the next start)."""
        future: Future[Any] = Future()
        with self._changed:
            if not self._stopping:
                self._jobs.append((job, future))
                self._changed.notify_all()
                return future
        try:
            if self.journal is None:
                raise OSError("there is no journal")
            keep(self.journal, [job])
        except OSError as exc:
            log.error("Change %s made after closing not kept: %s", job.op, exc)
        future.set_exception(RuntimeError("The writer is closed."))
        return future

    @property
    def pending(self) -> int:
        """Jobs queued or being tried (a job leaves the queue once written or dropped)."""
        with self._changed:
            return len(self._jobs)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every job submitted so far is written (or dropped); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._jobs and not self._busy, timeout_s)

    def close(self, timeout_s: float) -> Closed:
        """Write what is queued, waiting at most ``timeout_s`` (plus one try), stop the thread
        and keep the jobs left unwritten in the journal when there is one. Idempotent."""
        self.flush(timeout_s)
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        # A try in progress ends within the store's busy timeout; no new one starts.
        self._thread.join(max(timeout_s, 1.0) + 5.0)
        with self._changed:
            left = [job for job, _future in self._jobs]
            for _job, future in self._jobs:
                future.cancel()
            self._jobs.clear()
        if self._thread.is_alive():  # a try stuck past its busy timeout (a hung disk)
            log.error("The %s writer did not stop; its last try may still be written", self.name)
        if not left or self.journal is None:
            return Closed(len(left), None)
        try:
            keep(self.journal, left)
        except OSError as exc:
            log.error("%d change(s) could not be kept in %s: %s", len(left), self.journal, exc)
            return Closed(len(left), None)
        return Closed(len(left), self.journal)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._jobs or self._stopping)
                if self._stopping:
                    return
                job, future = self._jobs[0]
                self._busy = True
            try:
                result = self._apply(job)
            except Exception as exc:  # noqa: BLE001 - every failure is said or retried
                if self._retryable(exc):
                    said = str(exc).rstrip(".")
                    self._say(f"{said}. Hearth keeps trying; your changes are kept meanwhile.")
                    with self._changed:
                        self._busy = False
                        self._changed.wait_for(lambda: self._stopping, self.retry_wait_s)
                    continue
                log.error("Write %s dropped: %s", job.op, exc)
                self._say(str(exc))
                self._done(future, exc=exc)
                continue
            if self._troubled:
                log.info("Writing works again")
                self._troubled = False
            self._done(future, result=result)

    def _done(
        self, future: Future[Any], result: object = None, exc: BaseException | None = None
    ) -> None:
        with self._changed:
            self._jobs.popleft()
            self._busy = False
            self._changed.notify_all()
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)

    def _say(self, message: str) -> None:
        if self._troubled:
            return
        self._troubled = True
        log.error("%s", message)
        if self.on_trouble is not None:
            try:
                self.on_trouble(message)
            except Exception:  # noqa: BLE001 - the writer must go on: its jobs are the chats
                log.exception("The writer's trouble could not be said")


def keep(journal: Path, jobs: list[Job]) -> None:
    """Add ``jobs`` to ``journal`` (after any kept there before). Raises OSError."""
    earlier = journal.read_bytes() if journal.is_file() else b""
    lines = "".join(job.to_json() + "\n" for job in jobs).encode()
    write_atomic(journal, earlier + lines)
    log.warning("%d change(s) not yet written were kept in %s", len(jobs), journal)


@dataclass(frozen=True)
class Taken:
    """What ``take_journal`` read: the ``jobs``, how many lines were ``skipped`` as unreadable,
    and where a copy of a journal with such lines was kept (``kept_as``)."""

    jobs: list[Job]
    skipped: int = 0
    kept_as: Path | None = None


def take_journal(journal: Path) -> Taken:
    """The jobs kept in ``journal`` by an earlier ``close``. A line that is not a job (a
    damaged file, a hand edit) is skipped and logged, and a copy of the whole file is kept
    aside (``NAME.damaged-<time>``) before anything is written from it. The file itself stays
    until the caller has written the jobs (``forget_journal``)."""
    try:
        data = read_limited(journal) if journal.is_file() else None
    except Damaged as exc:  # too large, or not a regular file: none of it is read
        log.error("%s not read: %s", journal, exc)
        return Taken([], 1, keep_journal_aside(journal, copy=False))
    if data is None:
        return Taken([])
    jobs, skipped = [], 0
    for number, line in enumerate(data.splitlines(), 1):
        try:
            record = decode(line)
            if not isinstance(record, dict) or not isinstance(record.get("op"), str):
                raise Damaged("it is not a change")
            if not isinstance(record.get("args"), dict):
                raise Damaged("its fields are not an object")
            jobs.append(Job(record["op"], record["args"]))
        except Damaged as exc:
            skipped += 1
            log.error("Line %d of %s skipped: %s", number, journal, exc)
    return Taken(jobs, skipped, keep_journal_aside(journal) if skipped else None)


def keep_journal_aside(journal: Path, *, copy: bool = True) -> Path | None:
    """Keep a damaged journal as ``NAME.damaged-<time>``: a copy, or the file itself moved
    (``copy=False``). None when that fails (logged): the start goes on."""
    try:
        return keep_aside(journal, journal.read_bytes() if copy else None)
    except OSError as exc:
        log.error("The damaged %s could not be kept aside: %s", journal, exc)
        return None


def forget_journal(journal: Path) -> None:
    journal.unlink(missing_ok=True)
