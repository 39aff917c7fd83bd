"""The download queue: at most ``limit`` downloads at once, each on a worker thread.

``DownloadManager`` lives on the GUI thread and owns a :class:`DownloadsModel`. Each download
runs :meth:`Downloader.download` as a job of ``app.ui.common.tasks`` (on its pool for long
jobs) and reports plain data (a frozen ``Progress``, the result, a message). Pause, cancel and
shutdown cancel the job; the worker notices it on the next chunk and ends, keeping the part file
(pause) or deleting it (cancel). Nothing here blocks the GUI thread on the network or the disk.

With a ``history_file``, the finished and failed rows are kept across restarts
(``core.downloads.history``, written on the pool after each change); the unfinished ones come
back from their part files.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.common.errors import DownloadCancelled
from app.core.downloads import history
from app.core.downloads.downloader import Downloader, DownloadResult, UnfinishedDownload
from app.core.downloads.http import Progress
from app.core.gguf.split import split_names
from app.ui.common.tasks import (
    JobControl,
    LatestWriter,
    TaskHandle,
    long_jobs,
    run_job,
    run_task,
    wait_ms,
)
from app.ui.downloads.model import DownloadsModel, Role

log = logging.getLogger("hearth.ui.downloads")


@dataclass
class _Entry:
    repo_id: str
    filename: str
    revision: str
    task: TaskHandle | None = None  # the download running now; cancel() pauses it
    discard: bool = False  # delete the part file once the worker has stopped (cancel)


def _download(downloader: Downloader, entry: _Entry):
    """The job of one download, on ``tasks.long_jobs()``: stopped by its task's stop event."""

    def job(control: JobControl) -> DownloadResult:
        try:
            return downloader.download(
                entry.repo_id,
                entry.filename,
                revision=entry.revision,
                progress=control.report,
                stop=control.stop,
            )
        except DownloadCancelled:
            if entry.discard:
                downloader.discard(entry.repo_id, entry.filename)
            raise

    return job


class DownloadManager(QObject):
    """Queue, concurrency limit, pause / resume / cancel / retry by key (``repo_id/filename``)."""

    finished = Signal(str)  # path of a verified model, ready for the library
    failed = Signal(str, str)  # key, message
    state_changed = Signal(str, str)  # key, state
    restored = Signal(list)  # keys of the unfinished downloads an earlier session left, once read

    def __init__(
        self,
        downloader: Downloader | None = None,
        model: DownloadsModel | None = None,
        limit: int = 2,
        parent: QObject | None = None,
        *,
        history_file: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.downloader = downloader or Downloader()
        self.history_file = history_file
        self.notice = ""  # a sentence for the user when the saved list was damaged
        self._history = LatestWriter(self._write_history, self, "saving the downloads list")
        self.model = model or DownloadsModel(self)
        self.limit = limit
        self._entries: dict[str, _Entry] = {}
        self._queue: list[str] = []
        self._running: set[str] = set()
        self._tasks: list[TaskHandle] = []  # downloads, deletions, history writes: for shutdown

    # -- requests ---------------------------------------------------------------------------------

    def enqueue(self, repo_id: str, filename: str, revision: str = "main") -> str:
        """Queue a download (or resume it, if it is known and stopped); returns its key.

        Any shard of a split model names the whole model, keyed by shard 1.
        """
        filename = split_names(filename)[0]
        key = f"{repo_id}/{filename}"
        if key in self._running or key in self._queue:
            return key
        self._entries[key] = _Entry(repo_id, filename, revision)
        self.model.add(key, repo_id, filename)
        self._set_state(key, "queued", announce=True)
        self._queue.append(key)
        self._pump()
        return key

    def pause(self, key: str) -> None:
        if key in self._running:
            self._stop(key)
        elif key in self._queue:
            self._queue.remove(key)
            self._set_state(key, "paused")

    def resume(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and self.state(key) in ("paused", "failed"):
            self.enqueue(entry.repo_id, entry.filename, entry.revision)

    retry = resume

    def cancel(self, key: str) -> None:
        """Stop a download, delete what it downloaded so far and remove its row."""
        entry = self._entries.get(key)
        if entry is None:
            return
        if key in self._running:
            entry.discard = True
            self._stop(key)
            return
        if key in self._queue:
            self._queue.remove(key)
        if self.state(key) != "done":
            downloader, repo_id, filename = self.downloader, entry.repo_id, entry.filename
            self._keep(
                run_task(
                    lambda: downloader.discard(repo_id, filename),
                    _ignore,
                    _ignore,  # logged with its trace by the task API
                    self,
                    name=f"deleting the partial download of {filename}",
                )
            )
        self._forget(key)

    def restore_unfinished(self) -> TaskHandle:
        """Add the rows an earlier session left: its finished and failed downloads (from the
        history file; a finished one whose file is gone is dropped), then a paused row per
        download it left unfinished. The file and the part files are read on the pool (a slow
        disk never holds the window); ``restored`` then gives the keys of the unfinished ones."""
        history_file, downloader = self.history_file, self.downloader

        def read() -> tuple[str, list[history.PastDownload], list[UnfinishedDownload]]:
            if history_file is None:
                notice, past = "", []
            else:
                loaded = history.load(history_file)
                notice = loaded.message
                past = [p for p in loaded.value if p.state != "done" or Path(p.path).is_file()]
            return notice, past, downloader.list_unfinished()

        return self._keep(
            run_task(
                read,
                self._on_restored,
                self._restore_failed,
                self,
                name="reading the unfinished downloads",
            )
        )

    def _on_restored(
        self, read: tuple[str, list[history.PastDownload], list[UnfinishedDownload]]
    ) -> None:
        notice, past, unfinished = read
        self.notice = notice
        for row in past:
            if row.key in self._entries:
                continue
            self._entries[row.key] = _Entry(row.repo_id, row.filename, row.revision)
            self.model.add(
                row.key,
                row.repo_id,
                row.filename,
                row.state,
                done=row.size_bytes if row.state == "done" else 0,
                total=row.size_bytes,
            )
            self.model.update(row.key, {Role.Path: row.path, Role.Message: row.message})
        keys = []
        for one in unfinished:
            key = f"{one.repo_id}/{one.filename}"
            if key in self._entries:
                continue
            self._entries[key] = _Entry(one.repo_id, one.filename, one.revision)
            self.model.add(
                key,
                one.repo_id,
                one.filename,
                "paused",
                done=one.done_bytes,
                total=one.total_bytes,
            )
            self.model.update(key, {Role.Message: "Stopped before the end. Resume to continue."})
            keys.append(key)
        self.restored.emit(keys)

    def _restore_failed(self, message: str) -> None:
        self.notice = message
        self.restored.emit([])

    def shutdown(self, timeout_ms: int | None = None) -> bool:
        """Pause everything (part files are kept for next time) and wait for the workers, at
        most ``timeout_ms`` (``tasks.wait_ms``: within the quit's one budget); False when one
        is left running."""
        self._queue.clear()
        for key in self._running:
            self._stop(key)
        deadline = time.monotonic() + wait_ms(timeout_ms) / 1000
        return all(
            task.wait_finished(max(0, int((deadline - time.monotonic()) * 1000)))
            for task in self._tasks
        )

    def state(self, key: str) -> str | None:
        return self.model.value(key, Role.State)

    def running(self) -> list[str]:
        return sorted(self._running)

    # -- worker reports ---------------------------------------------------------------------------

    def _on_progress(self, key: str, progress: Progress) -> None:
        if key not in self._running:
            return
        state = "verifying" if progress.phase == "verifying" else "downloading"
        self.model.update(
            key,
            {
                Role.Done: progress.done,
                Role.Total: progress.total,
                Role.Speed: progress.speed,
                Role.Message: progress.message,
            },
        )
        self._set_state(key, state)

    def _save_history(self) -> None:
        """Write the finished and failed rows, on the pool; the newest list is written last."""
        if self.history_file is None:
            return
        rows = []
        for key in self.model.keys():
            entry, state = self._entries.get(key), self.state(key)
            if entry is None or state not in history.KEPT_STATES:
                continue
            rows.append(
                history.PastDownload(
                    entry.repo_id,
                    entry.filename,
                    entry.revision,
                    state,
                    size_bytes=int(self.model.value(key, Role.Total) or 0),
                    path=str(self.model.value(key, Role.Path) or ""),
                    message=str(self.model.value(key, Role.Message) or ""),
                )
            )
        self._keep(self._history.write(rows))

    def _write_history(self, rows: list[history.PastDownload]) -> None:
        """On the pool (``LatestWriter``: the newest list lands last)."""
        if self.history_file is None:
            return
        try:
            history.save(self.history_file, rows)
        except OSError as exc:
            log.warning("Could not save the downloads list: %s", exc)

    def _on_done(self, key: str, result: DownloadResult) -> None:
        self._running.discard(key)
        self.model.update(
            key,
            {
                Role.Done: result.size_bytes,
                Role.Total: result.size_bytes,
                Role.Speed: 0.0,
                Role.Message: "",
                Role.Path: str(result.path),
            },
        )
        self._set_state(key, "done")
        self._save_history()
        self.finished.emit(str(result.path))
        self._pump()

    def _on_failed(self, key: str, message: str) -> None:
        self._running.discard(key)
        self.model.update(key, {Role.Speed: 0.0, Role.Message: message})
        self._set_state(key, "failed")
        self._save_history()
        self.failed.emit(key, message)
        self._pump()

    def _on_stopped(self, key: str) -> None:
        self._running.discard(key)
        entry = self._entries.get(key)
        if entry is not None and entry.discard:
            self._forget(key)
        else:
            self.model.update(key, {Role.Speed: 0.0, Role.Message: ""})
            self._set_state(key, "paused")
        self._pump()

    # -- internals --------------------------------------------------------------------------------

    def _pump(self) -> None:
        while self._queue and len(self._running) < self.limit:
            key = self._queue.pop(0)
            entry = self._entries[key]
            entry.discard = False
            self._running.add(key)
            self._set_state(key, "downloading")
            entry.task = self._keep(
                run_job(
                    _download(self.downloader, entry),
                    self,
                    on_done=partial(self._on_done, key),
                    on_error=partial(self._on_failed, key),
                    on_progress=partial(self._on_progress, key),
                    on_cancelled=partial(self._on_stopped, key),
                    name=f"download of {key}",
                    pool=long_jobs(),
                )
            )

    def _stop(self, key: str) -> None:
        task = self._entries[key].task
        if task is not None:
            task.cancel()

    def _keep(self, task: TaskHandle) -> TaskHandle:
        self._tasks = [t for t in self._tasks if not t.finished.is_set()] + [task]
        return task

    def _set_state(self, key: str, state: str, announce: bool = False) -> None:
        if announce or self.state(key) != state:
            self.model.update(key, {Role.State: state})
            self.state_changed.emit(key, state)

    def _forget(self, key: str) -> None:
        known = self.state(key) in history.KEPT_STATES
        self._entries.pop(key, None)
        self.model.remove(key)
        if known:
            self._save_history()
        self.state_changed.emit(key, "cancelled")


def _ignore(_value: object) -> None:
    """Nothing to show: a failure was logged where it happened."""
