"""Fault plans for :class:`tests.support.hub_server.LoopbackHub`: the network misbehaving on cue.

A fault applies to the next ``count`` requests whose decoded path (query included) contains a
substring, or matches a compiled regular expression, optionally only for one HTTP method:

* ``fail`` - answer with an error status (500, 503, 429 with ``Retry-After: 0``...), as an
  overloaded Hub or CDN does;
* ``drop`` - send the headers and the first ``nbytes`` of a file's body, then close the
  connection, as a dropped TCP connection does mid-download;
* ``slow`` - throttle a file's body to ``bytes_per_second``, as a slow link does;
* ``raw`` - answer with a given status, headers and body (malformed JSON, a listing with missing
  fields, an HTML error page sent with status 200...), as a broken or hostile Hub would.

``skip`` lets that many matching requests through before the fault applies (the second GET of
a file: the one that resumes it).

Plans are shared by the server's handler threads, so every operation holds a lock. A fault's
count is spent only where it applies: a ``drop`` or ``slow`` fault is not spent by a HEAD.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    """One planned misbehaviour. ``remaining=None`` applies it to every matching request."""

    kind: str  # "fail" | "drop" | "slow" | "raw"
    pattern: str | re.Pattern[str]
    remaining: int | None = 1
    method: str | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    nbytes: int = 0
    bytes_per_second: int = 0
    body: bytes = b""  # "raw": the body sent as it is
    content_type: str = "application/json; charset=utf-8"
    skip: int = 0

    def matches(self, kind: str, method: str, target: str) -> bool:
        if kind != self.kind or (self.method is not None and self.method.upper() != method):
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(target) is not None
        return self.pattern in target


class FaultPlan:
    """The faults planned on one hub, spent as matching requests arrive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("count must be at least 1 (or None for every request)")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, kind: str, method: str, target: str) -> Fault | None:
        """The first planned fault of ``kind`` for this request, spending one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(kind, method, target):
                    if fault.skip:
                        fault.skip -= 1
                        continue
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """Faults not yet spent."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
