"""The fault suite's score: every injected fault ends recovered, lost or in a crash.

    with faults.inject("connection dropped at byte 123456"):
        result = downloader.download(...)      # the fault happens somewhere in here
        assert_verified(result)                # what the user must get

* recovered: the block ran to its end: every check of what the user gets passed (a verified
  file, or a clear typed error with nothing lost or presented as a model);
* lost: a check failed (``AssertionError``, or ``pytest.raises`` saw no error): data lost, a
  partial file presented as a model, a bad file accepted, an unclear message;
* crash: anything else escaped (an exception type other than the expected typed error), or a
  helper raised :class:`CrashDetected` (a subprocess killed by a signal it was not sent, a
  traceback where a one-line error was due, a hang).

A skipped block counts nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

RECOVERED, LOST, CRASH = "recovered", "lost", "crash"


class CrashDetected(AssertionError):
    """The scenario crashed (see the module's docstring)."""


@dataclass
class Tally:
    cases: list[tuple[str, str, str]] = field(default_factory=list)  # (test, case, outcome)
    test: str = ""

    @contextmanager
    def inject(self, case: str):
        """Count one injected fault, by how the ``with`` block ends."""
        try:
            yield
        except CrashDetected:
            self._count(case, CRASH)
            raise
        except (AssertionError, pytest.fail.Exception):  # pytest.raises: "DID NOT RAISE"
            self._count(case, LOST)
            raise
        except Exception:
            self._count(case, CRASH)
            raise
        self._count(case, RECOVERED)

    def _count(self, case: str, outcome: str) -> None:
        self.cases.append((self.test, case, outcome))

    def count(self, outcome: str) -> int:
        return sum(1 for _, _, o in self.cases if o == outcome)

    def line(self) -> str:
        return (
            f"faults: {len(self.cases)} injected, {self.count(RECOVERED)} recovered, "
            f"{self.count(LOST)} lost, {self.count(CRASH)} crashes"
        )
