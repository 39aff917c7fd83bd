"""The fault suite's fixtures and its summary line.

Every test module here sets ``pytestmark = pytest.mark.faults`` (``pytest -m faults`` runs them
alone). The ``faults`` fixture is the session's :class:`~tests.faults.tally.Tally`; the line
``faults: N injected, N recovered, N lost, N crashes`` is printed last in the terminal summary,
after the cases that did not recover.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huggingface_hub import constants
from huggingface_hub.utils import disable_progress_bars

from tests.faults.tally import RECOVERED, Tally

_TALLY = pytest.StashKey[Tally]()


@pytest.fixture(scope="session")
def fault_tally(pytestconfig: pytest.Config) -> Tally:
    return pytestconfig.stash.setdefault(_TALLY, Tally())


@pytest.fixture
def faults(fault_tally: Tally, request: pytest.FixtureRequest) -> Iterator[Tally]:
    """The tally, with this test's name on the cases it counts."""
    fault_tally.test = request.node.nodeid
    yield fault_tally
    fault_tally.test = ""


@pytest.fixture
def plain_http_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """huggingface_hub over plain HTTP (no Xet), no telemetry, no progress-bar thread."""
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    with disable_progress_bars():
        yield


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config):
    """After every other summary section: the cases that did not recover, then the line."""
    result = yield
    tally = config.stash.get(_TALLY, None)
    if tally is not None:
        bad = [case for case in tally.cases if case[2] != RECOVERED]
        if bad:
            terminalreporter.write_sep("-", "faults that did not recover")
            for test, case, outcome in bad:
                terminalreporter.write_line(f"{outcome.upper()}: {case} ({test})")
        terminalreporter.write_line(tally.line())
    return result
