"""app/core/storage/writer.py: jobs written in order on their own thread, retried while the
file is locked (said once), and kept in a journal when Hearth quits before they could be."""

from __future__ import annotations

import sqlite3
import threading

from app.core.storage.writer import Job, Writer, take_journal


def _table(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS notes (n INTEGER)")
    db.commit()
    db.close()


def _insert(path):
    def apply(job: Job) -> int:
        db = sqlite3.connect(path, timeout=0.05)
        try:
            with db:
                db.execute("INSERT INTO notes VALUES (?)", (job.args["n"],))
        finally:
            db.close()
        return job.args["n"]

    return apply


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError)


def _notes(path) -> list[int]:
    db = sqlite3.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT n FROM notes ORDER BY rowid")]
    finally:
        db.close()


def test_jobs_are_written_in_order_with_their_results(tmp_path):
    path = tmp_path / "notes.sqlite3"
    _table(path)
    writer = Writer(_insert(path), name="notes", retryable=_locked)
    futures = [writer.submit(Job("insert", {"n": n})) for n in range(50)]
    assert writer.flush(60)
    assert [f.result() for f in futures] == list(range(50))
    assert _notes(path) == list(range(50))
    assert writer.close(1).unwritten == 0


def test_a_locked_file_is_said_once_and_the_jobs_wait_for_it(tmp_path):
    path = tmp_path / "notes.sqlite3"
    _table(path)
    said: list[str] = []
    tried = threading.Semaphore(0)
    apply = _insert(path)

    def counting(job: Job) -> int:
        tried.release()
        return apply(job)

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    writer = Writer(counting, name="notes", retryable=_locked, retry_wait_s=0.01)
    writer.on_trouble = said.append
    for n in range(3):
        writer.submit(Job("insert", {"n": n}))
    for _ in range(5):  # the first job tried and failed five times
        tried.acquire()
    assert writer.pending == 3
    holder.execute("COMMIT")
    holder.close()
    assert writer.flush(60)
    assert _notes(path) == [0, 1, 2]  # nothing lost, in order
    assert len(said) == 1 and "locked" in said[0] and "keeps trying" in said[0]
    writer.close(1)


def test_a_job_that_can_never_succeed_is_dropped_and_said(tmp_path):
    said: list[str] = []

    def apply(job: Job) -> None:
        if job.op == "bad":
            raise ValueError("That chat no longer exists.")

    writer = Writer(apply, name="notes", retryable=_locked)
    writer.on_trouble = said.append
    bad, good = writer.submit(Job("bad")), writer.submit(Job("good"))
    assert writer.flush(60)
    assert isinstance(bad.exception(), ValueError) and good.result() is None
    assert said == ["That chat no longer exists."]
    writer.close(1)


def test_quitting_while_the_file_is_locked_keeps_the_jobs_in_the_journal(tmp_path):
    path = tmp_path / "notes.sqlite3"
    journal = tmp_path / "notes.sqlite3.unsaved"
    _table(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    writer = Writer(
        _insert(path), name="notes", retryable=_locked, journal=journal, retry_wait_s=0.01
    )
    for n in range(3):
        writer.submit(Job("insert", {"n": n}))
    closed = writer.close(0.05)
    holder.execute("COMMIT")
    holder.close()
    assert closed.unwritten == 3 and closed.journal == journal and not closed.lost
    assert _notes(path) == []  # none written and journaled both
    assert take_journal(journal).jobs == [Job("insert", {"n": n}) for n in range(3)]
    late = writer.submit(Job("insert", {"n": 9}))  # a change made during the quit
    assert late.exception() is not None and _notes(path) == []
    assert take_journal(journal).jobs[-1] == Job("insert", {"n": 9})  # kept all the same


def test_a_damaged_journal_gives_its_readable_jobs_and_is_kept_aside(tmp_path):
    journal = tmp_path / "notes.sqlite3.unsaved"
    data = b'{"op": "insert", "args": {"n": 1}}\n\x00\xff junk\n[[[[\n{"op": "insert", "args": {"n": 2}}\n'
    journal.write_bytes(data)
    taken = take_journal(journal)
    assert taken.jobs == [Job("insert", {"n": 1}), Job("insert", {"n": 2})]
    assert taken.skipped == 2
    assert taken.kept_as is not None and taken.kept_as.read_bytes() == data
    assert journal.read_bytes() == data  # still there until its jobs are written
