"""The download queue, its item model and its panel, driving real downloads from the loopback Hub."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.common.paths import hf_hub_cache
from app.core.downloads.downloader import Downloader
from app.core.downloads.http import RetryPolicy
from app.ui.downloads.manager import DownloadManager
from app.ui.downloads.model import COLUMNS, DownloadsModel, Role, format_eta
from app.ui.downloads.panel import DownloadsPanel
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.hub_server import LoopbackHub

REPO = "org/Tiny-GGUF"
NAMES = [gguf_name("Tiny", q) for q in ("Q4_K_M", "Q5_K_M", "Q8_0")]
Q4 = NAMES[0]
SIZE = 1_500_000
WAIT = 15_000


@pytest.fixture
def files(loopback_hub: LoopbackHub) -> dict[str, bytes]:
    data = {name: os.urandom(SIZE) for name in NAMES}
    add_gguf_family(loopback_hub, REPO, data)
    return data


@pytest.fixture
def manager(loopback_hub: LoopbackHub):
    downloader = Downloader(
        endpoint=loopback_hub.url, token=False, retry=RetryPolicy(attempts=2, sleep=lambda s: None)
    )
    manager = DownloadManager(downloader)
    yield manager
    assert manager.shutdown()


def state_is(key: str, state: str):
    return lambda k, s: (k, s) == (key, state)


def gets(hub: LoopbackHub, name: str) -> list[str | None]:
    return [
        r.headers.get("range")
        for r in hub.requests_matching("/repos/", method="GET")
        if f"file={name}" in r.path
    ]


def wait_for_bytes(qtbot, manager: DownloadManager, key: str) -> None:
    model = manager.model
    if not model.value(key, Role.Done):
        with qtbot.waitSignal(
            model.dataChanged,
            timeout=WAIT,
            check_params_cb=lambda *a: model.value(key, Role.Done) > 0,
        ):
            pass


def test_the_model_passes_the_model_tester(qtmodeltester) -> None:
    model = DownloadsModel()
    model.add("a/b/x-Q4_K_M.gguf", "a/b", "x-Q4_K_M.gguf")
    model.add("a/b/y.gguf", "a/b", "y.gguf", "paused", done=10, total=100)
    model.update("a/b/y.gguf", {Role.State: "downloading", Role.Speed: 5.0, Role.Message: "hello"})
    qtmodeltester.check(model, force_py=True)
    model.remove("a/b/x-Q4_K_M.gguf")
    qtmodeltester.check(model, force_py=True)

    cells = [model.index(0, c).data() for c in range(len(COLUMNS))]
    assert cells == ["y.gguf", "a/b", "Downloading", "10 B / 100 B", "5 B/s", "18 s", "hello"]
    assert (
        model.index(0, 0).data(Role.Eta) == 18.0 and model.roleNames()[int(Role.Total)] == b"total"
    )
    assert (format_eta(4000), format_eta(None)) == ("1 h 06 min", "")


def test_updates_do_not_drain_the_reference_count_of_true() -> None:
    # PySide6 6.12.0's emit() drops a reference to True per call; a few hundred abort the interpreter.
    model = DownloadsModel()
    model.add("k", "a/b", "x.gguf")
    before = sys.getrefcount(True)
    for done in range(300):
        model.update("k", {Role.Done: done + 1})
    assert sys.getrefcount(True) >= before - 10


def test_a_download_ends_ready_and_announces_its_path(qtbot, manager, files, loopback_hub) -> None:
    with qtbot.waitSignal(manager.finished, timeout=WAIT) as finished:
        key = manager.enqueue(REPO, Q4)

    path = Path(finished.args[0])
    assert path.read_bytes() == files[Q4] and hf_hub_cache() in path.parents
    model = manager.model
    assert model.value(key, Role.State) == "done" and model.value(key, Role.Path) == str(path)
    assert model.index(0, 2).data() == "Ready" and model.value(key, Role.Done) == SIZE


def test_at_most_two_run_at_once(qtbot, manager, files, loopback_hub) -> None:
    loopback_hub.slow(".gguf", bytes_per_second=200_000)
    keys = [manager.enqueue(REPO, name) for name in NAMES]

    assert manager.running() == sorted(keys[:2]) and manager.state(keys[2]) == "queued"
    with qtbot.waitSignal(
        manager.state_changed, timeout=WAIT, check_params_cb=state_is(keys[0], "paused")
    ):
        manager.pause(keys[0])
    assert manager.state(keys[2]) == "downloading"  # the queue moves on when a slot frees up
    manager.pause(keys[1])
    manager.pause(keys[2])


def test_pause_then_resume_continues_where_it_stopped(qtbot, manager, files, loopback_hub) -> None:
    loopback_hub.slow(Q4, bytes_per_second=300_000, count=1)
    key = manager.enqueue(REPO, Q4)
    wait_for_bytes(qtbot, manager, key)

    with qtbot.waitSignal(
        manager.state_changed, timeout=WAIT, check_params_cb=state_is(key, "paused")
    ):
        manager.pause(key)
    (part,) = hf_hub_cache().rglob("*.part")
    kept = part.stat().st_size
    with qtbot.waitSignal(manager.finished, timeout=WAIT) as finished:
        manager.resume(key)

    assert 0 < kept < SIZE and gets(loopback_hub, Q4) == [None, f"bytes={kept}-"]
    assert Path(finished.args[0]).read_bytes() == files[Q4]


def test_cancel_deletes_the_partial_file_and_the_row(qtbot, manager, files, loopback_hub) -> None:
    loopback_hub.slow(Q4, bytes_per_second=200_000)
    key = manager.enqueue(REPO, Q4)
    wait_for_bytes(qtbot, manager, key)

    with qtbot.waitSignal(
        manager.state_changed, timeout=WAIT, check_params_cb=state_is(key, "cancelled")
    ):
        manager.cancel(key)

    assert manager.model.rowCount() == 0 and list(hf_hub_cache().rglob("*.part")) == []


def test_a_failure_shows_on_the_row_and_retry_recovers(qtbot, manager, files, loopback_hub) -> None:
    loopback_hub.corrupt(REPO, Q4)
    with qtbot.waitSignal(manager.failed, timeout=WAIT) as failed:
        key = manager.enqueue(REPO, Q4)
    assert failed.args[0] == key and "damaged" in failed.args[1]
    assert manager.state(key) == "failed" and "damaged" in manager.model.value(key, Role.Message)

    loopback_hub.clear_faults()
    with qtbot.waitSignal(manager.finished, timeout=WAIT):
        manager.retry(key)
    assert manager.state(key) == "done" and manager.model.value(key, Role.Message) == ""


def test_unfinished_downloads_come_back_paused_after_a_restart(
    qtbot, manager, files, loopback_hub
) -> None:
    loopback_hub.drop_after(Q4, 600_000)
    with pytest.raises(Exception, match="connection dropped"):
        Downloader(endpoint=loopback_hub.url, token=False, retry=RetryPolicy(attempts=1)).download(
            REPO, Q4
        )

    with qtbot.waitSignal(manager.restored, timeout=WAIT) as restored:
        manager.restore_unfinished()
        assert manager.model.rowCount() == 0  # read on the pool: the rows come with `restored`
    ((key,),) = restored.args

    assert manager.state(key) == "paused" and manager.model.value(key, Role.Done) == 600_000
    with qtbot.waitSignal(manager.finished, timeout=WAIT):
        manager.resume(key)
    assert gets(loopback_hub, Q4) == [None, "bytes=600000-"]


def test_the_panel_buttons_follow_the_selected_row(qtbot, manager, files, loopback_hub) -> None:
    panel = DownloadsPanel(manager)
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    assert panel.empty.isVisibleTo(panel)
    loopback_hub.slow(Q4, bytes_per_second=300_000, count=1)
    key = manager.enqueue(REPO, Q4)
    panel.select(key)
    wait_for_bytes(qtbot, manager, key)

    assert panel.buttons["pause"].isEnabled() and not panel.buttons["resume"].isEnabled()
    with qtbot.waitSignal(
        manager.state_changed, timeout=WAIT, check_params_cb=state_is(key, "paused")
    ):
        qtbot.mouseClick(panel.buttons["pause"], Qt.MouseButton.LeftButton)
    assert panel.buttons["resume"].isEnabled() and panel.buttons["cancel"].isEnabled()
    assert not panel.grab().isNull()  # paints the progress bar delegate
    with qtbot.waitSignal(manager.finished, timeout=WAIT):
        qtbot.mouseClick(panel.buttons["resume"], Qt.MouseButton.LeftButton)
    shown = {name for name, button in panel.buttons.items() if button.isVisibleTo(panel)}
    assert shown == {"chat", "show"} and panel.buttons["chat"].isEnabled()
    assert not panel.empty.isVisibleTo(panel)
