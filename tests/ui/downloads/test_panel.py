"""The downloads panel as a user reads it: byte counts beside their bar, what to do with a
finished download, and the list kept across a restart (issue 19)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.downloads.downloader import Downloader
from app.core.downloads.history import FILE_NAME
from app.core.downloads.http import RetryPolicy
from app.ui.downloads.manager import DownloadManager
from app.ui.downloads.model import PROGRESS_COLUMN, DownloadsModel, Role
from app.ui.downloads.panel import DownloadsPanel, progress_rects
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.screenshots import screenshot

REPO = "org/Tiny-GGUF"
Q4 = gguf_name("Tiny", "Q4_K_M")
WAIT = 15_000


def manager_for(hub, history: Path) -> DownloadManager:
    downloader = Downloader(
        endpoint=hub.url, token=False, retry=RetryPolicy(attempts=1, sleep=lambda s: None)
    )
    return DownloadManager(downloader, history_file=history)


@pytest.fixture
def hub(loopback_hub):
    add_gguf_family(loopback_hub, REPO, {Q4: os.urandom(200_000)})
    return loopback_hub


def make_panel(qtbot, manager: DownloadManager) -> DownloadsPanel:
    panel = DownloadsPanel(manager)
    qtbot.addWidget(panel)
    panel.resize(1000, 220)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_the_byte_counts_are_written_whole_beside_their_bar(qtbot) -> None:
    """They were clipped ("105.5 MB / 105.5 M") and written over the bar."""
    model = DownloadsModel()
    model.add("o/r/Big-Q4_K_M.gguf", "o/r", "Big-Q4_K_M.gguf", "done", done=10, total=10)
    model.update("o/r/Big-Q4_K_M.gguf", {Role.Done: 105_500_000, Role.Total: 105_500_000})
    manager = DownloadManager(model=model)
    panel = make_panel(qtbot, manager)
    index = model.index(0, PROGRESS_COLUMN)
    text = index.data()
    assert text == "105.5 MB / 105.5 MB"

    cell = panel.table.visualRect(index)
    bar, words = progress_rects(cell)
    assert bar.right() < words.left() and cell.contains(bar)
    assert panel.table.fontMetrics().horizontalAdvance(text) <= words.width()
    assert manager.shutdown()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_finished_download_offers_chat_and_my_models(qtbot, hub, tmp_path, keeper, theme):
    keeper.apply(theme)
    manager = manager_for(hub, tmp_path / FILE_NAME)
    panel = make_panel(qtbot, manager)
    with qtbot.waitSignal(manager.finished, timeout=WAIT) as finished:
        key = manager.enqueue(REPO, Q4)
    path = finished.args[0]
    assert panel.selected_key() == key  # selected as it finished
    chat, show = panel.buttons["chat"], panel.buttons["show"]
    assert chat.text() == "Chat with it" and show.text() == "Show in My Models"
    assert chat.isVisibleTo(panel) and chat.isEnabled() and show.isEnabled()
    assert not panel.buttons["pause"].isVisibleTo(panel)
    with qtbot.waitSignal(panel.chat_requested, timeout=WAIT) as chat_asked:
        qtbot.mouseClick(chat, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.show_requested, timeout=WAIT) as show_asked:
        qtbot.mouseClick(show, Qt.MouseButton.LeftButton)
    assert chat_asked.args == [path] == show_asked.args
    screenshot(panel, f"downloads_finished_{theme}.png")
    assert manager.shutdown()


def test_the_list_is_kept_across_a_restart(qtbot, hub, tmp_path) -> None:
    history = tmp_path / FILE_NAME
    first = manager_for(hub, history)
    with qtbot.waitSignal(first.finished, timeout=WAIT) as finished:
        key = first.enqueue(REPO, Q4)
    with qtbot.waitSignal(first.failed, timeout=WAIT):
        failed_key = first.enqueue(REPO, gguf_name("Tiny", "Q8_0"))
    assert first.shutdown()
    saved = json.loads(history.read_text())["downloads"]
    assert [row["state"] for row in saved] == ["done", "failed"]

    again = manager_for(hub, history)  # the next start
    with qtbot.waitSignal(again.restored, timeout=WAIT) as restored:  # read on the pool
        again.restore_unfinished()
    assert restored.args == [[]]  # nothing to resume: the dock stays closed
    panel = make_panel(qtbot, again)
    assert again.model.keys() == [key, failed_key]
    assert again.model.index(0, 2).data() == "Ready" and again.state(failed_key) == "failed"
    assert again.model.value(failed_key, Role.Message)  # why, as it was
    panel.select(key)
    with qtbot.waitSignal(panel.chat_requested, timeout=WAIT) as asked:
        qtbot.mouseClick(panel.buttons["chat"], Qt.MouseButton.LeftButton)
    assert asked.args == [finished.args[0]]
    assert again.shutdown()


def test_a_finished_download_whose_file_is_gone_is_dropped(qtbot, hub, tmp_path) -> None:
    history = tmp_path / FILE_NAME
    first = manager_for(hub, history)
    with qtbot.waitSignal(first.finished, timeout=WAIT) as finished:
        first.enqueue(REPO, Q4)
    assert first.shutdown()
    Path(finished.args[0]).unlink()
    again = manager_for(hub, history)
    with qtbot.waitSignal(again.restored, timeout=WAIT):
        again.restore_unfinished()
    assert again.model.rowCount() == 0 and again.notice == ""
    assert again.shutdown()


def test_a_damaged_list_is_set_aside_with_one_sentence(qtbot, hub, tmp_path) -> None:
    history = tmp_path / FILE_NAME
    history.write_text('{"downloads": 5}')
    manager = manager_for(hub, history)
    with qtbot.waitSignal(manager.restored, timeout=WAIT):
        manager.restore_unfinished()
    assert manager.model.rowCount() == 0
    assert manager.notice.startswith("The downloads list could not be used")
    assert list(tmp_path.glob(f"{FILE_NAME}.damaged-*"))
    assert manager.shutdown()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_list_fits_a_1024_px_dock_and_a_finished_bar_shows_full(qtbot, keeper, theme) -> None:
    """At 1024 px the list scrolled sideways, and a finished bar on the selected row was drawn
    in the selection's colour: empty-looking in the light theme (issue 19)."""
    keeper.apply(theme)
    repo = "bartowski/Some-Long-Model-Name-Instruct-v2.5-GGUF"
    name = "Some-Long-Model-Name-Instruct-v2.5-Q4_K_M.gguf"
    model = DownloadsModel()
    model.add(f"{repo}/{name}", repo, name, "done", done=10, total=10)
    model.update(f"{repo}/{name}", {Role.Done: 105_500_000, Role.Total: 105_500_000})
    panel = make_panel(qtbot, DownloadManager(model=model))
    panel.resize(1000, 220)  # the dock's width in a 1024-px window
    table, header = panel.table, panel.table.horizontalHeader()
    qtbot.waitUntil(lambda: header.length() <= table.viewport().width())
    assert not table.horizontalScrollBar().isVisible()
    index = model.index(0, PROGRESS_COLUMN)
    cell = table.visualRect(index)
    assert cell.right() <= table.viewport().width()
    metrics = table.fontMetrics()
    assert metrics.horizontalAdvance(index.data()) <= progress_rects(cell)[1].width()
    assert model.index(0, 0).data(Qt.ToolTipRole) == f"{repo}/{name}"  # an elided name, whole

    panel.select(f"{repo}/{name}")
    qtbot.wait(10)
    image = table.viewport().grab().toImage()
    bar, _ = progress_rects(cell)
    done = image.pixelColor(bar.center())
    palette = table.palette()
    assert done.name() == palette.color(palette.ColorRole.Link).name()  # the accent: full
    assert done.name() != palette.color(palette.ColorRole.Highlight).name()
    screenshot(panel, f"downloads_finished_{theme}.png")
    assert panel.manager.shutdown()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_finished_downloads_give_their_names_the_room_of_empty_columns(qtbot, keeper, theme):
    """At 1024 px a finished download's name was cut ("…Q4_K_…") beside Speed, Time left and
    Message columns left empty: those show only while a row has something to say in them."""
    keeper.apply(theme)
    repo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
    names = ["SmolLM2-135M-Instruct-Q4_K_M.gguf", "mmproj-zoo-vision-tiny-F16.gguf"]
    model = DownloadsModel()
    for name in names:
        model.add(f"{repo}/{name}", repo, name, "done", done=10, total=10)
    panel = make_panel(qtbot, DownloadManager(model=model))
    table, header = panel.table, panel.table.horizontalHeader()
    hidden = ("Speed", "Time left", "Message")

    def titles() -> set[str]:
        return {
            model.headerData(c, Qt.Horizontal) for c in range(7) if not header.isSectionHidden(c)
        } & set(hidden)

    qtbot.waitUntil(lambda: not titles() and header.length() <= table.viewport().width())
    metrics = table.fontMetrics()
    for row, name in enumerate(names):
        cell = table.visualRect(model.index(row, 0))
        assert metrics.horizontalAdvance(name) < cell.width()  # whole, not elided
    screenshot(panel, f"downloads_names_whole_{theme}.png")

    key = f"{repo}/{names[0]}"
    model.add(f"{repo}/big.gguf", repo, "big.gguf", "downloading", done=10, total=10**9)
    model.update(f"{repo}/big.gguf", {Role.Speed: 2_000_000.0})
    qtbot.waitUntil(lambda: {"Speed", "Time left"} <= titles())
    assert "Message" not in titles() and set(hidden) > titles()
    model.update(key, {Role.Message: "Saved in the models folder"})
    qtbot.waitUntil(lambda: titles() == set(hidden) and header.length() <= table.viewport().width())
    assert panel.manager.shutdown()
