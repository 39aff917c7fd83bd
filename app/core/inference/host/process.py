"""The parent's handle on one host process: start it, send it requests, read its events, and
tell how it died.

Three threads per host, all daemons: one reads the child's frames into ``events``, one keeps
the last lines of its stderr (llama.cpp's own words when it aborts), and the caller's thread,
which waits on ``events``. When the child's stdout ends, ``events`` gets ``{"ev": "exit"}``.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any, BinaryIO, cast

from app.core.inference.host import wire

log = logging.getLogger("hearth.host")

FLAG = "--model-host"
TAIL_LINES = 60
# The line of llama.cpp's (or the C++ runtime's) that says why it stopped.
_CAUSE = re.compile(
    r"GGML_ASSERT|GGML_ABORT|terminate called|what\(\)|error|failed|"
    r"exception|abort|out of memory",
    re.IGNORECASE,
)
# The build folder llama.cpp's assertions start with: noise to a user ("/tmp/pip-.../src/").
_SOURCE_PATH = re.compile(r"^(?:[A-Za-z]:)?[^\s:]*[/\\](?=[^/\\\s]+:\d+:)")
_SIGNALS = {  # what happened, by the signal that ended the host
    "SIGABRT": "llama.cpp stopped on an internal check",
    "SIGSEGV": "llama.cpp crashed",
    "SIGBUS": "llama.cpp crashed",
    "SIGILL": "llama.cpp crashed (this processor lacks an instruction the build uses)",
    "SIGFPE": "llama.cpp crashed",
    "SIGKILL": "the system stopped it (often because memory ran out)",
    "SIGTERM": "another program stopped it",
}


def command(*args: str) -> list[str]:
    """The command line of a child that is Hearth itself with ``args`` (hidden flags):
    ``python -m app`` from source, the executable itself in a bundle."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "app", *args]


class HostProcess:
    """One running host. ``send`` from any thread; ``get`` from the one thread that waits."""

    def __init__(self, args: list[str] | None = None) -> None:
        env = dict(os.environ)
        # ggml prints a backtrace on abort by attaching gdb when it is installed: seconds of
        # noise before the child ends, and no use to a user.
        env["GGML_NO_BACKTRACE"] = "1"
        self.process = subprocess.Popen(
            args or command(FLAG),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        # Popen with PIPE always makes the three streams; mypy cannot know it.
        self._stdin = cast(BinaryIO, self.process.stdin)
        self._stdout = cast(BinaryIO, self.process.stdout)
        self._stderr_stream = cast(BinaryIO, self.process.stderr)
        self.events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.last_heard = time.monotonic()
        self._send_lock = threading.Lock()
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._reader = threading.Thread(
            target=self._read_events, daemon=True, name="hearth-host-events"
        )
        self._stderr = threading.Thread(
            target=self._read_stderr, daemon=True, name="hearth-host-stderr"
        )
        self._reader.start()
        self._stderr.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict[str, Any]) -> bool:
        """Send a request; False when the child is gone (its ``exit`` event tells why)."""
        with self._send_lock:
            try:
                wire.write(self._stdin, message)
                return True
            except (OSError, ValueError):
                return False

    def get(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def kill(self) -> None:
        """End the child now (every byte it held returns to the system)."""
        if self.alive():
            try:
                self.process.kill()
            except OSError:
                pass

    def close(self, grace_s: float = 3.0) -> None:
        """Ask the child to exit, wait ``grace_s`` for it, then kill it."""
        if self.alive():
            self.send({"op": "exit"})
            try:
                self._stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap()

    def cause(self) -> str:
        """How the child ended, in words ("llama.cpp crashed", "the system stopped it ...")."""
        self._reap()
        code = self.process.returncode
        if code is None:
            return "it stopped answering"
        if code < 0:
            name = _signal_name(-code)
            return _SIGNALS.get(name, f"its process was ended by {name}")
        return f"its process ended unexpectedly (exit code {code})"

    def last_line(self) -> str:
        """The child's last line on stderr that says why it stopped (llama.cpp's assertion, the
        C++ runtime's exception); empty when it said nothing of the kind (killed from outside).
        Hearth's own log lines from the child are not llama.cpp's words."""
        lines = [
            _SOURCE_PATH.sub("", line.strip())
            for line in self._tail
            if line.strip() and not line.startswith("hearth.")
        ]
        for line in reversed(lines):
            if _CAUSE.search(line):
                return _short(line)
        return ""

    def _reap(self) -> None:
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        self._stderr.join(timeout=2)  # its last lines say why
        for stream in (self._stdin, self._stdout, self._stderr_stream):
            try:
                stream.close()
            except OSError:
                pass

    def _read_events(self) -> None:
        stream = self._stdout
        while True:
            try:
                message = wire.read(stream)
            except (OSError, ValueError, wire.WireError) as exc:
                log.warning("Model host %d sent garbage: %s", self.pid, exc)
                self.kill()
                message = None
            if message is None:
                self.events.put({"ev": "exit"})
                return
            self.last_heard = time.monotonic()
            if message.get("ev") != "ping":
                self.events.put(message)

    def _read_stderr(self) -> None:
        for raw in iter(self._stderr_stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self._tail.append(line)
            log.debug("host %d: %s", self.pid, line)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _short(line: str, limit: int = 200) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"
