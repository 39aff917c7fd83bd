"""Reading the rows of a damaged SQLite table that can still be read.

One damaged page makes SQLite stop a whole ``SELECT`` where it meets it, so one bad page would
hide every row after it. ``read_rows`` reads a table in rowid order straight from its own
b-tree (``NOT INDEXED``: a damaged index page does not matter). Where a read fails, the next
rowid whose page can be reached is found by probing ahead (every rowid for a while, then
doubling the step and bisecting back), and the rowids skipped are looked up one by one (a
page whose header is damaged fails a scan and a seek, while a lookup by id still finds each of
its rows), so a damaged page costs only the rows on it that no lookup reads.

The connection should be to a copy, with ``PRAGMA writable_schema = ON``: under it SQLite reads
a truncated file (it otherwise refuses the whole file when the header counts more pages than
there are). ``copy_readable`` does both for a small store's tables.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.storage import db_files

log = logging.getLogger("hearth.files")

MIN_ROWID, MAX_ROWID = -(2**63), 2**63 - 1
MAX_FAILURES = 1_000  # damaged spots per table; far more means nothing readable is left
# Rowids tried one by one after a damaged spot: a failing seek takes ~5 us, so the 4,096 cost
# ~20 ms, and cover the rows of hundreds of pages of chat messages.
LINEAR = 4096


def _seek(conn: sqlite3.Connection, table: str, at: int) -> tuple[bool, int | None]:
    """Whether the b-tree can be entered at rowid ``at``, and the first rowid found there."""
    try:
        row = conn.execute(
            f"SELECT rowid FROM {table} NOT INDEXED WHERE rowid >= ? ORDER BY rowid LIMIT 1", (at,)
        ).fetchone()
    except db_files.READ_ERRORS:
        return False, None
    return True, (row[0] if row else None)


def _next_reachable(conn: sqlite3.Connection, table: str, after: int) -> int | None:
    """The first rowid above ``after`` whose page can be reached, or None.

    Every rowid of the next ``LINEAR`` is tried first: Hearth's rowids are dense, and pages
    after a damaged one can be readable islands (a truncated file keeps the leaves that were
    written early), which a doubling step would jump over. Beyond that, the step doubles and
    then bisects back."""
    after = max(after, 0)  # rowids SQLite gives start at 1: the islands are above 0
    for at in range(after + 1, min(after + LINEAR, MAX_ROWID) + 1):
        ok, found = _seek(conn, table, at)
        if ok:
            return found
    after = min(after + LINEAR, MAX_ROWID)
    step = 1
    while True:
        at = min(after + step, MAX_ROWID)
        ok, found = _seek(conn, table, at)
        if ok:
            break
        if at == MAX_ROWID:
            return None
        step *= 2
    bad, good = (after + step // 2 if step > 1 else after), at
    while good - bad > 1:
        middle = (bad + good) // 2
        ok, first = _seek(conn, table, middle)
        if ok:
            good, found = middle, first
        else:
            bad = middle
    return found


def _rows_by_id(
    conn: sqlite3.Connection, table: str, columns: str, first: int, last: int
) -> Iterator[tuple[Any, ...]]:
    """The rows of rowids ``first`` to ``last`` that a lookup by id reads (rowid first)."""
    sql = f"SELECT rowid, {columns} FROM {table} NOT INDEXED WHERE rowid = ?"
    for at in range(first, last + 1):
        try:
            row = conn.execute(sql, (at,)).fetchone()
        except db_files.READ_ERRORS:
            continue
        if row is not None:
            yield row


def read_rows(conn: sqlite3.Connection, table: str, columns: str) -> Iterator[tuple[Any, ...]]:
    """Every readable row of ``table`` (its ``columns``, comma-separated), in rowid order."""
    sql = f"SELECT rowid, {columns} FROM {table} NOT INDEXED WHERE rowid >= ? ORDER BY rowid"
    after, failures, rows = MIN_ROWID - 1, 0, 0
    while failures <= MAX_FAILURES and after < MAX_ROWID:
        try:
            for row in conn.execute(sql, (after + 1,)):
                if row[0] > after:  # a damaged page can hand back rows out of order
                    after, rows = row[0], rows + 1
                    yield row[1:]
            return
        except db_files.READ_ERRORS as exc:
            failures += 1
            if failures == 1:
                log.warning("Table %s: unreadable after %d row(s) (%s)", table, rows, exc)
            found = _next_reachable(conn, table, after)
            # a damaged page can fail a scan, and a seek into it, while a lookup by id still
            # finds each of its rows: the rows between are looked up one by one
            last = min(max(after, 0) + LINEAR, MAX_ROWID) if found is None else found - 1
            for row in _rows_by_id(conn, table, columns, max(after, 0) + 1, last):
                after, rows = row[0], rows + 1
                yield row[1:]
            if found is None:
                return
            try:  # the row the probe landed on may itself be unreadable (an overflow page)
                row = conn.execute(
                    f"SELECT rowid, {columns} FROM {table} NOT INDEXED WHERE rowid = ?", (found,)
                ).fetchone()
            except db_files.READ_ERRORS:
                row = None
            after = found
            if row is not None:
                yield row[1:]


def copy_readable(source: Path, target: sqlite3.Connection) -> int:
    """Copy the readable rows of ``source`` (never changed) into the tables of the same names
    that ``target`` has; returns how many rows were copied."""
    tables = [
        row[0]
        for row in target.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    copied = 0
    try:
        with db_files.read_only(source) as conn:
            conn.execute("PRAGMA writable_schema = ON")
            for table in tables:
                columns = ", ".join(row[1] for row in target.execute(f"PRAGMA table_info({table})"))
                marks = ", ".join("?" * (columns.count(",") + 1))
                try:
                    with target:
                        for row in read_rows(conn, table, columns):
                            copied += target.execute(
                                f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", row
                            ).rowcount
                except db_files.READ_ERRORS as exc:
                    log.warning("Table %s of %s could not be read: %s", table, source, exc)
    except (OSError, sqlite3.Error, UnicodeDecodeError) as exc:
        log.warning("%s could not be read: %s", source, exc)
    return copied
