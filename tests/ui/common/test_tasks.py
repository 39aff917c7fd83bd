"""The one task API (app/ui/common/tasks.py): what a page that starts background work gets."""

from __future__ import annotations

import sys
import threading
import weakref

import shiboken6
from PySide6.QtCore import QObject

from app.core.common.errors import HearthError
from app.ui.application import ErrorReporter
from app.ui.common import tasks

GATE_S = 30  # a safety net only: every gate below is opened by the test itself


def gated(gate: threading.Event, value: object):
    def job():
        gate.wait(GATE_S)
        return value

    return job


def test_a_result_and_an_error_arrive_on_the_gui_thread(qtbot, caplog):
    parent, got = QObject(), []
    main = threading.current_thread()

    def record(value):
        got.append((value, threading.current_thread() is main))

    ok = tasks.run_task(lambda: 42, record, record, parent)
    said = tasks.run_task(_raise(HearthError("The Hub is unreachable.")), record, record, parent)
    qtbot.waitUntil(lambda: ok.ended and said.ended)
    assert sorted(got, key=str) == [("The Hub is unreachable.", True), (42, True)]
    assert not caplog.records  # an error written for the user is no bug: nothing logged


def test_an_unexpected_error_is_said_and_logged_with_its_trace(qtbot, caplog):
    parent, errors = QObject(), []
    handle = tasks.run_task(_raise(KeyError("size")), print, errors.append, parent)
    qtbot.waitUntil(lambda: handle.ended)
    assert errors == ["Something went wrong: 'size'"]
    [record] = [r for r in caplog.records if r.name == "hearth.ui.tasks"]
    assert record.exc_info and record.exc_info[0] is KeyError


def test_a_parent_deleted_before_the_job_ends_gets_nothing_and_nothing_is_an_error(
    qtbot, monkeypatch
):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back after the test
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    reporter, shown = ErrorReporter(), []
    reporter.error.connect(shown.append)
    reporter.install()
    gate, parent, got = threading.Event(), QObject(), []
    handle = tasks.run_task(gated(gate, "late"), got.append, got.append, parent)
    shiboken6.delete(parent)  # the page closed while its job ran
    assert handle.cancelled  # the job is told it may stop
    gate.set()
    qtbot.waitUntil(lambda: handle.ended)
    assert handle.finished.is_set()  # the job did end and emit
    assert got == [] and shown == []


def test_latest_only_drops_the_older_result(qtbot):
    gate, parent, got = threading.Event(), QObject(), []
    older = tasks.run_task(gated(gate, "older"), got.append, got.append, parent, key="search")
    newer = tasks.run_task(lambda: "newer", got.append, got.append, parent, key="search")
    qtbot.waitUntil(lambda: newer.ended)
    assert older.cancelled and not newer.cancelled
    gate.set()  # the older answer comes last, as a slow Hub's would
    qtbot.waitUntil(lambda: older.ended)
    assert got == ["newer"]


def test_the_same_key_on_another_parent_is_another_request(qtbot):
    first, second, got = QObject(), QObject(), []
    a = tasks.run_task(lambda: "a", got.append, got.append, first, key="probe")
    b = tasks.run_task(lambda: "b", got.append, got.append, second, key="probe")
    qtbot.waitUntil(lambda: a.ended and b.ended)
    assert sorted(got) == ["a", "b"]


def test_cancel_stops_a_long_job_and_drops_its_result(qtbot):
    parent, got, progress, cancelled = QObject(), [], [], []

    def job(control: tasks.JobControl):
        steps = 0
        while not control.stop.wait(0.01):
            steps += 1
            control.report(steps)
        return steps

    handle = tasks.run_job(
        job,
        parent,
        on_done=got.append,
        on_error=got.append,
        on_progress=progress.append,
        on_cancelled=lambda: cancelled.append(True),
    )
    qtbot.waitUntil(lambda: len(progress) >= 2)
    handle.cancel()
    qtbot.waitUntil(lambda: handle.ended)
    assert cancelled == [True] and got == []
    assert progress[:2] == [1, 2]


def test_shutdown_abandons_a_hung_job_and_says_so(qtbot, caplog):
    gate, parent = threading.Event(), QObject()
    quick = tasks.run_task(lambda: 1, print, print, parent, name="quick scan")
    qtbot.waitUntil(lambda: quick.finished.is_set())
    hung = tasks.run_task(gated(gate, None), print, print, parent, name="hung probe")
    left = tasks.shutdown(timeout_ms=50)
    assert left == ["hung probe"]
    assert hung.cancelled and not hung.finished.is_set()  # abandoned, not joined
    assert any("hung probe" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert tasks.left_running()  # so the app ends its process rather than wait in Qt's exit
    gate.set()
    qtbot.waitUntil(lambda: hung.ended)
    assert not tasks.left_running()


def _raise(exc: Exception):
    def job():
        raise exc

    return job


def test_shutdown_with_nothing_running_logs_nothing(caplog):
    assert tasks.shutdown(timeout_ms=0) == []
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_task_left_running_keeps_its_relay_until_it_ends(qtbot):
    """The relay has no parent: nothing but the task can delete it while the job runs."""
    gate, parent = threading.Event(), QObject()
    handle = tasks.run_task(gated(gate, 1), print, print, parent)
    assert handle._relay.parent() is None and handle in tasks.running()
    gate.set()
    qtbot.waitUntil(lambda: handle.ended)
    assert handle not in tasks.running()


def test_the_window_quits_with_a_job_still_running(qtbot, starter_home, caplog, monkeypatch):
    from app.core.config.settings import Settings
    from app.ui.main_window import MainWindow

    budgets = []

    class Recorded(tasks.QuitBudget):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            budgets.append(self)

    monkeypatch.setattr(tasks, "QUIT_WAIT_MS", 200)
    monkeypatch.setattr(tasks, "QuitBudget", Recorded)
    window = MainWindow(starter_home, Settings())
    qtbot.addWidget(window)
    gate = threading.Event()
    hung = tasks.run_task(gated(gate, None), print, print, window, name="hung library scan")
    window.close()
    assert hung.cancelled and not hung.finished.is_set()  # told to stop, left behind: not joined
    [budget] = budgets  # one budget for the whole quit
    assert budget.total_ms == 200 and all(given <= 200 for given in budget.waits)
    assert budget.waits[-1] == 0  # the hung job took it all: the chats' close is not waited for
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("hung library scan" in line for line in said), said
    gate.set()
    qtbot.waitUntil(lambda: hung.ended)


def test_a_worker_thread_that_hangs_at_quit_is_left_behind_and_said(caplog):
    from PySide6.QtCore import QThread

    gate = threading.Event()

    class Hung(QThread):
        def run(self):
            gate.wait(GATE_S)

    thread, worker = Hung(), QObject()
    thread.start()
    assert not tasks.wait_thread(thread, "stuck model", timeout_ms=50, keep=(worker,))
    assert thread.isRunning() and thread in tasks._abandoned  # kept: never deleted running
    assert worker in tasks._kept
    assert any("stuck model" in r.getMessage() for r in caplog.records)
    gate.set()
    assert tasks.wait_thread(thread, "stuck model")
    tasks._abandoned.remove(thread)
    tasks._kept.remove(worker)


def test_an_ended_task_holds_nothing_of_its_page(qtbot):
    """The pool thread may let go of a task after the GUI thread has: the task must hold no
    page by then (a dialog freed on a pool thread crashed the process, one run in three)."""

    class Page(QObject):
        shown = None

        def job(self):
            return 1

        def show(self, value):
            self.shown = value

    page = Page()
    handle = tasks.run_task(page.job, page.show, print, page)
    qtbot.waitUntil(lambda: handle.ended and handle.finished.is_set())
    assert page.shown == 1
    gone = weakref.ref(page)
    del page
    assert gone() is None  # neither the handle nor its job keeps the page


def test_every_wait_of_a_quit_takes_from_one_budget(qtbot, caplog):
    """A hung model thread, a hung job and a download no longer wait 3 s each: every wait is
    given what is left of one deadline (a clock the test moves; the waits are real)."""
    from PySide6.QtCore import QThread

    gate, parent, now = threading.Event(), QObject(), [0.0]

    class Hung(QThread):
        def run(self):
            gate.wait(GATE_S)

    thread = Hung()
    thread.start()
    hung = tasks.run_task(gated(gate, None), print, print, parent, name="hung probe")
    try:
        with tasks.quitting(3_000, clock=lambda: now[0]) as budget:
            now[0] = 2.95  # 2.95 s of the quit spent
            assert not tasks.wait_thread(thread, "stuck model")  # would wait 3 s on its own
            assert tasks.shutdown() == ["hung probe"]
            now[0] = 3.5  # all spent
            assert not hung.wait_finished()
            assert tasks.wait_ms(10_000) == 0
    finally:
        gate.set()
        assert thread.wait(GATE_S * 1000)
        qtbot.waitUntil(lambda: hung.ended)
    tasks._abandoned.remove(thread)
    assert budget.waits == [50, 50, 0, 0]
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("stuck model thread still running after 50 ms" in line for line in said), said
    assert tasks.wait_ms() == tasks.QUIT_WAIT_MS  # outside a quit, a wait has its own time


def test_a_latest_writer_saves_the_newest_value_last_and_skips_those_overtaken(qtbot):
    parent, saved, gate, saving = QObject(), [], threading.Event(), threading.Event()

    def save(value):
        saving.set()
        gate.wait(GATE_S)  # the first save is slow: the disk is busy
        saved.append(value)

    writer = tasks.LatestWriter(save, parent, "saving a list")
    first = writer.write("v1")
    saving.wait(GATE_S)
    second, third = writer.write("v2"), writer.write("v3")  # while v1 is being saved
    gate.set()
    qtbot.waitUntil(lambda: first.ended and second.ended and third.ended)
    assert saved == ["v1", "v3"]
