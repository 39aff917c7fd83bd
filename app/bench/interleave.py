"""Run two measuring processes in turns, so a noisy machine slows both alike.

On a shared or throttled machine a core's speed wanders by ±10% from one second to the next
(measured here: 1-second windows of the same decode loop ranged 51-73 tok/s). Two programs
measured one after the other then differ by that much for no reason of their own. Run in short
alternating turns instead (one runs while the other is paused with SIGSTOP), both sample the
same slow swings of the machine, and what is left is the difference between them.

The protocol with each child: it prints ``ready`` on a line of its own when it has loaded
what it needs, waits for a line on stdin before it starts measuring, and prints its result as
the last line of stdout (JSON). Times a child reports are ``time.monotonic()`` seconds, the
clock this module uses too, so the time a child spent paused can be subtracted
(``active_seconds``).

Where processes cannot be paused (Windows), the children run one after the other instead.
Each child leads its own process group and is paused and resumed as a group, so the processes
it starts (a model host) take the same turns.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

SLOT_S = 0.25  # one turn: shorter than the machine's swings (~1 s), long beside a token


@dataclass
class Child:
    command: list[str]
    process: subprocess.Popen[str] | None = None  # set by _start
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    said_ready: bool = False  # it printed "ready" (else its output ended without it)
    pauses: list[tuple[float, float]] = field(default_factory=list)  # (paused, resumed)
    errors: str = ""
    reader: threading.Thread | None = None
    error_reader: threading.Thread | None = None

    @property
    def started(self) -> subprocess.Popen[str]:
        """The child's process; asking before ``_start`` ran is a mistake in this module."""
        if self.process is None:
            raise RuntimeError(f"{' '.join(self.command[-3:])} was not started")
        return self.process

    @property
    def result(self) -> dict:
        if self.started.returncode != 0 or not self.lines:
            raise RuntimeError(
                f"{' '.join(self.command[-3:])} failed "
                f"(exit {self.started.returncode}): {self.errors.strip()[-800:]}"
            )
        return json.loads(self.lines[-1])


def can_pause() -> bool:
    return hasattr(signal, "SIGSTOP")


def active_seconds(start: float, end: float, pauses: list[tuple[float, float]]) -> float:
    """Seconds from ``start`` to ``end`` that the child was not paused."""
    paused = sum(max(0.0, min(end, b) - max(start, a)) for a, b in pauses)
    return (end - start) - paused


def run_in_turns(
    commands: list[list[str]], slot_s: float = SLOT_S, timeout_s: float = 1800.0
) -> list[Child]:
    """Run ``commands`` (two children) in alternating turns of ``slot_s``; when one ends, the
    other runs alone to its end. Returns the children, with their pauses and output."""
    children = [Child(command) for command in commands]
    try:
        for child in children:
            _start(child)
        for child in children:
            if not _wait_ready(child, timeout_s):
                raise RuntimeError(
                    f"{' '.join(child.command[-3:])} did not start: {child.errors.strip()[-800:]}"
                )
        if can_pause():
            _alternate(children, slot_s, timeout_s)
        else:
            for child in children:  # one after the other
                _go(child)
                child.started.wait(timeout_s)
        for child in children:
            child.started.wait(timeout_s)
            for reader in (child.reader, child.error_reader):
                if reader is not None:
                    reader.join(timeout=10)
    finally:
        for child in children:
            if child.process is not None and child.process.poll() is None:
                if can_pause():
                    _signal(child, signal.SIGCONT)
                    _signal(child, signal.SIGKILL)  # its model host too
                child.process.kill()
                child.process.wait()
            for reader in (child.reader, child.error_reader):  # they end at the pipes' end
                if reader is not None:
                    reader.join(timeout=10)
            if child.process is not None:
                for stream in (child.process.stdin, child.process.stdout, child.process.stderr):
                    if stream is None:
                        continue
                    try:
                        stream.close()
                    except OSError:  # stdin of a child that died: the pipe is broken
                        pass
    return children


def _start(child: Child) -> None:
    child.process = subprocess.Popen(
        child.command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=can_pause(),
    )
    stdout, stderr = child.process.stdout, child.process.stderr
    assert stdout is not None and stderr is not None  # both are pipes (PIPE above)

    def read_out() -> None:
        try:
            for line in stdout:
                line = line.strip()
                if line == "ready":
                    child.said_ready = True
                    child.ready.set()
                elif line:
                    child.lines.append(line)
        except (ValueError, OSError):  # closed by the cleanup after a reader that was late
            pass
        child.ready.set()  # ended without being ready: _wait_ready sees it has exited

    def read_errors() -> None:
        try:
            for line in stderr:
                child.errors = (child.errors + line)[-4000:]
        except (ValueError, OSError):  # as read_out
            pass

    child.reader = threading.Thread(target=read_out, daemon=True)
    child.error_reader = threading.Thread(target=read_errors, daemon=True)
    child.reader.start()
    child.error_reader.start()


def _wait_ready(child: Child, timeout_s: float) -> bool:
    """True once the child said "ready"; False when its output ended first (it failed, even if
    the process is not reaped yet) or the time ran out."""
    return child.ready.wait(timeout_s) and child.said_ready and child.started.poll() is None


def _go(child: Child) -> None:
    stdin = child.started.stdin
    assert stdin is not None  # a pipe (PIPE in _start)
    stdin.write("go\n")
    stdin.flush()


def _alternate(children: list[Child], slot_s: float, timeout_s: float) -> None:
    first, second = children
    _signal(second, signal.SIGSTOP)
    paused_at = {id(second): time.monotonic()}
    for child in children:
        _go(child)  # the paused one reads it when it resumes
    running, waiting = first, second
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if running.started.poll() is not None:  # it ended: the other runs alone
            if waiting.started.poll() is None:
                _resume(waiting, paused_at)
            return
        time.sleep(slot_s)
        if waiting.started.poll() is not None or running.started.poll() is not None:
            continue
        _signal(running, signal.SIGSTOP)
        paused_at[id(running)] = time.monotonic()
        _resume(waiting, paused_at)
        running, waiting = waiting, running
    raise RuntimeError("The measurement took too long.")


def _signal(child: Child, number: int) -> None:
    """Send ``number`` to the child and every process it started (its group)."""
    try:
        os.killpg(child.started.pid, number)
    except ProcessLookupError:
        pass


def _resume(child: Child, paused_at: dict) -> None:
    _signal(child, signal.SIGCONT)
    child.pauses.append((paused_at.pop(id(child)), time.monotonic()))
