"""The leak fixtures of tests/conftest.py fail the tests they should, and only those.

Run in a child pytest: a fixture's failure is the outcome under test, and it must not fail
this test run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The child's fixture waits 0.3 s, its leaks run 1.5 s: each leak outlives the wait, and is
# waited for at the end of the module so that no QThread is destroyed while running.
CONFTEST = """
import tests.conftest as outer
from tests.conftest import no_leaked_qthreads  # noqa: F401

outer.QT_LEAK_WAIT_MS = 300
"""

TESTS = """
from PySide6.QtCore import QObject, QThread, QThreadPool, QTimer

kept = []
private_pool = QThreadPool()


class Sleeper(QThread):
    def run(self):
        self.msleep(1500)


def test_leaves_a_qthread_running():
    thread = Sleeper()
    kept.append(thread)
    thread.start()


def test_leaves_a_global_pool_task_running():
    QThreadPool.globalInstance().start(lambda: QThread.msleep(1500))


def test_leaves_a_private_pool_task_running():
    private_pool.start(lambda: QThread.msleep(1500))


def test_leaves_a_long_job_of_the_task_api_running():
    from app.ui.common import tasks

    kept.append(QObject())
    tasks.run_job(lambda _control: QThread.msleep(1500), kept[-1], pool=tasks.long_jobs())


def test_waits_for_its_qthread():
    thread = Sleeper()
    thread.start()
    assert thread.wait()


def test_leaves_a_timer_ticking(qapp):
    timer = QTimer(objectName="left ticking")
    kept.append(timer)
    timer.start(1000)


def test_a_timer_stopped_or_deleted_with_its_owner_passes(qapp):
    stopped = QTimer()
    stopped.start(1000)
    stopped.stop()
    owner = QObject()
    QTimer(owner).start(1000)
    owner.deleteLater()


def test_a_thread_ending_within_the_wait_passes():
    thread = QThread()
    kept.append(thread)
    thread.start()
    thread.quit()


def teardown_module():
    for thread in kept:
        if isinstance(thread, QThread):
            thread.wait()
        if isinstance(thread, QTimer):
            thread.stop()
    QThreadPool.globalInstance().waitForDone()
    from app.ui.common import tasks

    tasks.long_jobs().waitForDone()
    private_pool.waitForDone()
"""


def test_qthreads_pool_tasks_and_timers_left_running_fail_their_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_leaks=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=8, errors=5)
    result.stdout.fnmatch_lines_random(
        [
            "ERROR test_leaks.py::test_leaves_a_qthread_running*",
            "ERROR test_leaks.py::test_leaves_a_global_pool_task_running*",
            "ERROR test_leaks.py::test_leaves_a_private_pool_task_running*",
            "ERROR test_leaks.py::test_leaves_a_long_job_of_the_task_api_running*",
            "ERROR test_leaks.py::test_leaves_a_timer_ticking*",
            "E * QTimers left running: *left ticking*",
            "E * QThreads left running: *Sleeper*",
            "E * QThreadPool tasks left running: ['the global pool: 1 active'*",
            "E * QThreadPool tasks left running: *hearth long jobs*",
        ]
    )
