"""Discover and the model page, driven as a user drives them, against the loopback Hub."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from huggingface_hub import constants, get_token
from PySide6.QtCore import QModelIndex, Qt, QThreadPool

from app.core.common.paths import hf_hub_cache
from app.core.downloads.downloader import Downloader
from app.core.downloads.http import RetryPolicy
from app.core.fit import estimate
from app.core.hub.client import HubClient, SearchQuery
from app.core.library.catalog import list_models
from app.ui.discover.page import DiscoverPage
from app.ui.discover.results_model import FileRole, HubResultsModel, QuantFilesModel, Role
from app.ui.downloads.manager import DownloadManager
from tests.support.hub_repos import add_gguf_family, gguf_name, mmproj_name, split_bytes
from tests.support.hub_server import LoopbackHub

WAIT = 15_000
LAPTOP = estimate.Machine(ram_bytes=16 * 2**30)
CARD = (
    "---\nlicense: apache-2.0\nbase_model: org/Vis\n---\n\n# Vis\n\nA small **vision** "
    "model. ![logo](https://example.com/logo.png) See [the paper](./PAPER.md).\n"
)


@pytest.fixture(autouse=True)
def pool_drained():
    """No Hub request outlives its test (or the loopback Hub it talks to)."""
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


@pytest.fixture
def catalog(loopback_hub: LoopbackHub) -> LoopbackHub:
    for i in range(7):
        add_gguf_family(
            loopback_hub,
            f"bulk/Model-{i}-1B-GGUF",
            {gguf_name(f"Model-{i}", q): b"x" for q in ("Q4_K_M", "Q8_0")},
            downloads=100 + i,
            likes=7 - i,
            gguf={"total": 1_000_000_000, "architecture": "llama"},
        )
    add_gguf_family(
        loopback_hub,
        "big/Giant-2000B-GGUF",
        {gguf_name("Giant", "Q2_K"): b"x"},
        downloads=5,
        likes=50,
        gguf={"total": 2_000_000_000_000, "architecture": "deepseek2"},
    )
    q8 = os.urandom(9_000)
    vision = {
        gguf_name("Vis", "Q4_K_M"): os.urandom(4_000),
        **dict(
            zip(
                [gguf_name("Vis", "Q8_0", part=i, parts=3) for i in (1, 2, 3)],
                split_bytes(q8, 3),
                strict=True,
            )
        ),
        mmproj_name("Vis"): os.urandom(1_000),
        "Vis.safetensors": b"ignored",
        "README.md": CARD.encode(),
    }
    loopback_hub.add_repo(
        "org/Vis-7B-GGUF",
        vision,
        downloads=1,
        likes=0,
        gguf={"total": 7_615_616_512, "architecture": "qwen2vl", "context_length": 32768},
    )
    return loopback_hub


def client(hub: LoopbackHub | str, **kwargs) -> HubClient:
    kwargs.setdefault("retries", 0)
    return HubClient(hub if isinstance(hub, str) else hub.url, token=False, **kwargs)


@pytest.fixture
def page(qtbot, services, catalog, tmp_path):
    return make_page(qtbot, services, client(catalog), tmp_path)


def make_page(qtbot, services, hub_client, tmp_path, downloads=None, **kwargs) -> DiscoverPage:
    kwargs.setdefault("page_size", 3)
    widget = DiscoverPage(
        None,
        downloads,
        tmp_path / "models",
        client=hub_client,
        machine=LAPTOP,
        machine_info=services.machine,
        cache_file=tmp_path / "discover.json",
        auto_search=False,
        **kwargs,
    )
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    return widget


def search(qtbot, page: DiscoverPage, text: str = "") -> None:
    page.query.setText(text)
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.search()


def ids(page: DiscoverPage) -> list[str]:
    return [m.id for m in page.results_model.models()]


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# -- the results model ------------------------------------------------------------------------------


def test_results_arrive_page_by_page(qtbot, qtmodeltester, catalog) -> None:
    model = HubResultsModel()
    pages = client(catalog).search(SearchQuery("", author="bulk"), page_size=3)
    with qtbot.waitSignal(model.page_loaded, timeout=WAIT):
        model.search(pages)
    assert model.rowCount() == 3 and model.canFetchMore(QModelIndex())
    first = model.index(0)
    assert (
        first.data(),
        first.data(Role.Author),
        first.data(Role.Downloads),
        first.data(Role.Likes),
    ) == ("bulk/Model-6-1B-GGUF", "bulk", 106, 1)
    assert (
        first.data(Role.Updated) == "just now" and first.data(Role.SizeRange) == "~562.5 MB–1.1 GB"
    )
    assert first.data(Role.Tags) == ["llama", "1.0B", "2 quants"]
    assert model.roleNames()[int(Role.SizeRange)] == b"sizeRange"

    with qtbot.waitSignal(model.page_loaded, timeout=WAIT):
        qtmodeltester.check(model, force_py=True)  # the tester asks for more rows: page 2
    assert model.rowCount() == 6
    with qtbot.waitSignal(model.page_loaded, timeout=WAIT):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 7 and not model.canFetchMore(QModelIndex())
    qtmodeltester.check(model, force_py=True)


def test_filters_that_match_nothing_yet_look_further(qtbot, loopback_hub) -> None:
    for i in range(6):
        add_gguf_family(
            loopback_hub,
            f"bulk/Big-{i}-70B-GGUF",
            {gguf_name("M", "Q4_K_M"): b"x"},
            downloads=10 + i,
            gguf={"total": 0},
        )
    add_gguf_family(
        loopback_hub, "bulk/Small-1B-GGUF", {gguf_name("M", "Q4_K_M"): b"x"}, gguf={"total": 0}
    )
    model = HubResultsModel()
    pages = client(loopback_hub).search(SearchQuery("", size="≤3B"), page_size=1)
    with qtbot.waitSignal(model.page_loaded, timeout=WAIT) as loaded:
        model.search(pages)
    assert loaded.args == [1] and pages.pages_fetched == 7  # two look-ups of up to 5 pages
    assert [m.id for m in model.models()] == ["bulk/Small-1B-GGUF"]


def test_the_files_model_passes_the_model_tester(qtmodeltester) -> None:
    from app.core.hub.files import group_files

    files, _ = group_files(
        [("a-Q4_K_M.gguf", 5), ("a-Q8_0-00001-of-00002.gguf", 4), ("a-Q8_0-00002-of-00002.gguf", 4)]
    )
    model = QuantFilesModel()
    model.set_files(files, "o/r")
    model.set_fits({"a-Q4_K_M.gguf": estimate.VERDICT_CPU})
    model.set_state("o/r/a-Q8_0-00001-of-00002.gguf", "downloading")
    qtmodeltester.check(model, force_py=True)
    cells = [[model.index(r, c).data() for c in range(5)] for r in range(2)]
    assert cells == [
        ["Q4_K_M", "a-Q4_K_M.gguf", "5 B", estimate.VERDICT_CPU, "Download"],
        ["Q8_0", "a-Q8_0.gguf  (2 parts)", "8 B", "…", "Downloading…"],
    ]
    assert model.index(1, 4).data(FileRole.Enabled) is False


# -- searching --------------------------------------------------------------------------------------


def test_search_sort_and_filters(qtbot, page) -> None:
    search(qtbot, page)
    assert ids(page)[:3] == ["bulk/Model-6-1B-GGUF", "bulk/Model-5-1B-GGUF", "bulk/Model-4-1B-GGUF"]
    assert "scroll down for more" in page.status.text()

    page.sort.setCurrentIndex(page.sort.findData("likes"))
    search(qtbot, page)
    assert ids(page) == ["big/Giant-2000B-GGUF", "bulk/Model-0-1B-GGUF", "bulk/Model-1-1B-GGUF"]

    page.size_filter.setCurrentText(">15B")
    search(qtbot, page)
    assert ids(page) == ["big/Giant-2000B-GGUF"] and page.status.text().startswith("1 model")
    page.size_filter.setCurrentText("Any size")
    assert page.architecture.findText("qwen2vl") == -1
    search(qtbot, page, "Vis")
    page.architecture.setCurrentText("qwen2vl")  # seen in the results: offered as a filter
    search(qtbot, page, "")
    assert ids(page) == ["org/Vis-7B-GGUF"]
    page.architecture.setCurrentText("Any architecture")

    page.author.setText("big")
    search(qtbot, page)
    assert ids(page) == ["big/Giant-2000B-GGUF"]
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.fits.setChecked(True)  # 2000B parameters fit no laptop
    assert ids(page) == [] and "No GGUF models match" in page.status.text()


def test_scrolling_fetches_the_next_page(qtbot, page) -> None:
    page.show()
    page.results.resize(600, 120)  # room for fewer rows than a page holds
    search(qtbot, page, "bulk")
    assert page.results_model.rowCount() == 3
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.results.scrollToBottom()
        page.results.verticalScrollBar().setValue(page.results.verticalScrollBar().maximum())
    assert page.results_model.rowCount() == 6


def test_a_failed_search_says_so_keeps_the_results_and_retries(qtbot, page, catalog) -> None:
    search(qtbot, page, "bulk")
    before = ids(page)
    catalog.fail("/api/models", 503)
    with qtbot.waitSignal(page.results_model.failed, timeout=WAIT):
        page.query.setText("Vis")
        page.search()
    assert "having trouble (error 503)" in page.status.text()
    assert "results below are from before" in page.status.text()
    assert page.retry_button.isVisibleTo(page) and ids(page) == before

    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        qtbot.mouseClick(page.retry_button, Qt.LeftButton)
    assert ids(page) == ["org/Vis-7B-GGUF"] and not page.retry_button.isVisibleTo(page)


def test_a_failed_next_page_is_retried(qtbot, page, catalog) -> None:
    search(qtbot, page, "bulk")
    catalog.fail("/api/models", 500)
    with qtbot.waitSignal(page.results_model.failed, timeout=WAIT):
        page.results_model.fetchMore(QModelIndex())
    assert page.results_model.rowCount() == 3 and not page.results_model.canFetchMore(QModelIndex())
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.retry()
    assert page.results_model.rowCount() == 6


def test_a_slow_hub_offers_retry(qtbot, services, tmp_path) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        page = make_page(qtbot, services, client(url, timeout_s=2), tmp_path, slow_ms=50)
        with qtbot.waitSignal(page.results_model.failed, timeout=WAIT):
            page.search()
            qtbot.waitUntil(lambda: "slow to answer" in page.status.text(), timeout=WAIT)
            assert page.retry_button.isVisibleTo(page)
        assert "did not answer in time" in page.status.text()


def test_results_are_shown_offline_from_the_last_search(qtbot, services, page, tmp_path) -> None:
    search(qtbot, page, "bulk")
    online = page.results_model.models()
    qtbot.waitUntil(lambda: page.cache_io.ended)  # written off the GUI thread
    page.close()

    offline = make_page(qtbot, services, client(closed_port()), tmp_path)
    qtbot.waitUntil(lambda: offline.cache_io.ended)
    assert offline.results_model.models() == online
    assert offline.query.text() == "bulk" and "saved" in offline.status.text()
    with qtbot.waitSignal(offline.results_model.failed, timeout=WAIT):
        offline.search()
    assert "Could not reach the Hugging Face Hub" in offline.status.text()
    assert offline.results_model.models() == online


# -- the model page ---------------------------------------------------------------------------------


def open_by_click(qtbot, page: DiscoverPage, repo_id: str) -> None:
    page.show()
    row = ids(page).index(repo_id)
    rect = page.results.visualRect(page.results_model.index(row))
    with qtbot.waitSignal(page.model_page.loaded, timeout=WAIT):
        qtbot.mouseClick(page.results.viewport(), Qt.LeftButton, pos=rect.center())


def test_the_model_page(qtbot, page) -> None:
    search(qtbot, page, "Vis")
    with qtbot.waitSignal(page.model_page.fits_ready, timeout=WAIT):
        open_by_click(qtbot, page, "org/Vis-7B-GGUF")
    model_page = page.model_page
    assert page.stack.currentWidget() is model_page
    assert model_page.title.text() == "org/Vis-7B-GGUF"
    facts = {name: label.text() for name, label in model_page.facts.items()}
    assert facts == {
        "License": "apache-2.0",
        "Access": "Open: anyone can download it",
        "Parameters": "7.6B",
        "Architecture": "qwen2vl",
        "Context": "32,768 tokens",
        "Base model": "org/Vis",
    }
    text = model_page.card.toPlainText()
    assert "A small vision model." in text and "license:" not in text
    files = model_page.files
    assert [[files.index(r, c).data() for c in range(3)] for r in range(files.rowCount())] == [
        ["Q4_K_M", "Vis-Q4_K_M.gguf", "4.0 KB"],
        ["Q8_0", "Vis-Q8_0.gguf  (3 parts)", "9.0 KB"],
    ]
    assert all(files.index(r, 3).data() == estimate.VERDICT_CPU for r in range(2))
    projectors = model_page.projectors
    assert projectors.rowCount() == 1 and projectors.index(0, 1).data() == "mmproj-Vis-f16.gguf"
    assert model_page.projectors_table.isVisibleTo(page)
    assert files.index(0, 4).data() == "Download" and not files.index(0, 4).data(FileRole.Enabled)

    qtbot.mouseClick(model_page.back, Qt.LeftButton)
    assert page.stack.currentIndex() == 0


def test_a_pasted_link_opens_the_model_page(qtbot, page) -> None:
    with qtbot.waitSignal(page.model_page.loaded, timeout=WAIT):
        search(qtbot, page, "https://huggingface.co/org/Vis-7B-GGUF/tree/main")
    assert page.stack.currentWidget() is page.model_page


def test_download_ends_with_the_model_in_the_library(
    qtbot, services, catalog, tmp_path, hearth_home
) -> None:
    downloader = Downloader(
        endpoint=catalog.url, token=False, retry=RetryPolicy(attempts=2, sleep=lambda s: None)
    )
    manager = DownloadManager(downloader)
    page = make_page(qtbot, services, client(catalog), tmp_path, downloads=manager)
    search(qtbot, page, "Vis")
    open_by_click(qtbot, page, "org/Vis-7B-GGUF")
    table = page.model_page.files_table
    rect = table.visualRect(page.model_page.files.index(1, QuantFilesModel.ACTION))

    done: list[str] = []
    manager.finished.connect(done.append)
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: len(done) == 2, timeout=WAIT)  # the model and its projector
    path = next(Path(p) for p in done if "mmproj" not in p)
    assert (path.parent / mmproj_name("Vis")).is_file()  # beside it, for Chat to load
    models = list_models(hearth_home.models_dir, hf_hub_cache(), other_apps=False)
    (model,) = [m for m in models if m.path == path]
    assert (model.source, model.repo_id, model.quant, model.size_bytes) == (
        "hf-cache",
        "org/Vis-7B-GGUF",
        "Q8_0",
        9_000,
    )
    assert len(model.all_files) == 3
    assert page.model_page.files.index(1, QuantFilesModel.ACTION).data() == "Downloaded · Chat"
    with qtbot.waitSignal(page.chat_requested, timeout=WAIT) as chat:
        qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())
    assert chat.args == [str(path)]
    assert manager.shutdown()


def test_a_gated_model_takes_a_token(qtbot, services, loopback_hub, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf" / "stored"))
    add_gguf_family(
        loopback_hub, "meta/Gated-GGUF", {gguf_name("G", "Q4_K_M"): b"weights"}, gated="auto"
    )
    loopback_hub.valid_tokens.add("hf_granted_token")
    manager = DownloadManager(
        Downloader(endpoint=loopback_hub.url, retry=RetryPolicy(attempts=1, sleep=lambda s: None))
    )
    page = make_page(
        qtbot, services, HubClient(loopback_hub.url, retries=0), tmp_path, downloads=manager
    )
    with qtbot.waitSignal(page.model_page.loaded, timeout=WAIT):
        search(qtbot, page, "meta/Gated-GGUF")
    model_page = page.model_page
    assert model_page.facts["Access"].text().startswith("Gated")
    assert model_page.token_box.isVisibleTo(page)

    with qtbot.waitSignal(manager.failed, timeout=WAIT) as refused:
        model_page.download(0)
    assert "gated" in refused.args[1].lower()
    model_page.token.setText("hf_granted_token")
    with qtbot.waitSignal(model_page.token_saved, timeout=WAIT):
        qtbot.keyClick(model_page.token, Qt.Key_Return)
    assert model_page.token_note.text().endswith("Signed in as hearth-user.")
    assert get_token() == "hf_granted_token" and model_page.token.text() == ""
    with qtbot.waitSignal(manager.finished, timeout=WAIT):
        model_page.download(0)
    assert manager.shutdown()


def test_results_are_readable_in_the_dark_theme(qtbot, page, keeper) -> None:
    """Names were painted in fixed dark text, unreadable on the dark theme's list."""
    from PySide6.QtGui import QColor

    keeper.apply("dark")
    page.show()
    search(qtbot, page)
    image = page.results.viewport().grab().toImage()
    row = page.results.visualRect(page.results_model.index(0, 0))
    lights = [
        QColor(image.pixel(x, y)).lightness()
        for y in range(row.top() + 4, row.top() + 24)
        for x in range(row.left() + 8, row.left() + 200)
    ]
    background = max(set(lights), key=lights.count)
    assert background < 90  # the dark field
    assert max(lights) - background > 110  # the model's name in light text


def test_results_fit_the_list_beside_its_scrollbar(qtbot, page) -> None:
    """The likes were cut by the scrollbar, and a useless horizontal scrollbar showed."""
    page.show()
    search(qtbot, page, "bulk")
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.results_model.fetchMore(QModelIndex())  # more rows than the list shows
    page.resize(900, 420)
    qtbot.wait(10)  # let the list lay its rows out again
    view = page.results
    assert view.verticalScrollBar().isVisible()
    assert not view.horizontalScrollBar().isVisible() and view.horizontalScrollBar().maximum() == 0
    row = view.visualRect(page.results_model.index(0))
    assert row.left() >= 0 and row.right() < view.viewport().width()
    image = view.viewport().grab().toImage()
    band = range(row.top() + 4, row.top() + 22)  # the first line: name ... ⬇ downloads ♥ likes
    background = image.pixelColor(row.right() - 2, row.top() + 2)
    inked = [
        x for x in range(row.width()) if any(image.pixelColor(x, y) != background for y in band)
    ]
    assert inked and max(inked) <= row.right() - 8  # the likes end inside the row's padding
