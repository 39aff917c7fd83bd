"""The model page as a newcomer uses it (issue 19): the quant chosen in "Which quant?" is the one
selected and downloaded, a file already here offers "Downloaded · Chat", a gated model says once
what to do, a repo without GGUF files offers a search for GGUF versions. Against the loopback Hub
serving the real quant ladder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from huggingface_hub import constants
from PySide6.QtCore import Qt, QThreadPool

from app.core.downloads.downloader import Downloader
from app.core.downloads.http import RetryPolicy
from app.core.fit import estimate
from app.core.hub.client import HubClient
from app.core.library.catalog import LocalModel
from app.ui.discover.model_page import DOWNLOADED, NEEDS_TOKEN, TOKEN_PAGE, ModelPage
from app.ui.discover.page import DiscoverPage
from app.ui.discover.results_model import FileRole, QuantFilesModel
from app.ui.downloads.manager import DownloadManager
from app.ui.my_models.library_model import LibraryModel
from app.ui.quant_picker.model import QuantPickerModel, QuantRole
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.screenshots import screenshot

WAIT = 20_000
MIB = 2**20
LADDER = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"]
REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"


@pytest.fixture(autouse=True)
def pool_drained():
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


@pytest.fixture
def ladder_hub(loopback_hub, quant_ladder):
    add_gguf_family(
        loopback_hub,
        REPO,
        {gguf_name("SmolLM2-135M-Instruct", q): quant_ladder[q] for q in LADDER},
        gguf={"total": 134515008, "architecture": "llama", "context_length": 8192},
    )
    return loopback_hub


@pytest.fixture
def manager(loopback_hub):
    downloads = DownloadManager(
        Downloader(
            endpoint=loopback_hub.url, token=False, retry=RetryPolicy(attempts=1, sleep=lambda s: 0)
        )
    )
    yield downloads
    assert downloads.shutdown()


def open_page(
    qtbot, services, hub, repo: str, downloads=None, library=None, token=False
) -> ModelPage:
    page = ModelPage(
        client=HubClient(hub.url, token=token, retries=0),
        downloads=downloads,
        machine=estimate.Machine(ram_bytes=600 * MIB),
        machine_info=services.machine,
        library=library,
    )
    qtbot.addWidget(page)
    page.resize(1024, 640)
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.show_repo(repo)
    if page.details.files:
        qtbot.waitUntil(lambda: page.picker.model.rowCount() > 0, timeout=WAIT)
        qtbot.waitUntil(lambda: page.picker.pick is not None, timeout=WAIT)
    return page


def picker_row(page: ModelPage, quant: str) -> int:
    model = page.picker.model
    return next(r for r in range(model.rowCount()) if model.index(r, 0).data() == quant)


def click_picker(qtbot, page: ModelPage, quant: str, column: int = 0) -> None:
    table = page.picker.table
    rect = table.visualRect(page.picker.model.index(picker_row(page, quant), column))
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())


def selected_quants(page: ModelPage) -> list[str]:
    rows = page.files_table.selectionModel().selectedRows()
    return [page.files.entry(i.row()).quant for i in rows]


def visible_in(table, index) -> bool:
    return table.viewport().rect().contains(table.visualRect(index))


def test_the_quant_chosen_in_the_picker_is_selected_and_shown_in_files(
    qtbot, services, ladder_hub, manager
) -> None:
    """Choosing Q4_K_M left another file highlighted in Files, scrolled out of sight."""
    page = open_page(qtbot, services, ladder_hub, REPO, manager)
    assert selected_quants(page) == ["Q8_0"]  # the recommended one, to start with
    for quant in ("Q2_K", "F16", "Q4_K_M"):
        click_picker(qtbot, page, quant)
        assert selected_quants(page) == [quant]
        row = page.files.row_of(gguf_name("SmolLM2-135M-Instruct", quant))
        assert visible_in(page.files_table, page.files.index(row, 0))


def test_the_picker_row_downloads_what_it_shows_then_offers_chat(
    qtbot, services, ladder_hub, manager, keeper
) -> None:
    keeper.apply("light")
    page = open_page(qtbot, services, ladder_hub, REPO, manager)
    model = page.picker.model
    assert not page.picker.table.isColumnHidden(QuantPickerModel.ACTION)
    table = page.picker.table  # at 1024 px the button shows without scrolling sideways
    assert visible_in(table, model.index(picker_row(page, "Q8_0"), QuantPickerModel.ACTION))
    assert table.viewport().height() >= 2 * table.verticalHeader().defaultSectionSize()
    q4 = picker_row(page, "Q4_K_M")
    assert model.index(q4, QuantPickerModel.ACTION).data() == "Download"
    assert model.index(q4, 0).data(QuantRole.ActionEnabled)
    screenshot(page, "model_page_light.png")

    with qtbot.waitSignal(manager.finished, timeout=WAIT) as finished:
        click_picker(qtbot, page, "Q4_K_M", QuantPickerModel.ACTION)
    path = finished.args[0]
    assert Path(path).name == gguf_name("SmolLM2-135M-Instruct", "Q4_K_M")  # not Q8_0 nor F16

    assert model.index(q4, QuantPickerModel.ACTION).data() == DOWNLOADED == "Downloaded · Chat"
    row = page.files.row_of(Path(path).name)
    assert page.files.index(row, QuantFilesModel.ACTION).data() == DOWNLOADED
    with qtbot.waitSignal(page.chat_requested, timeout=WAIT) as chat:
        click_picker(qtbot, page, "Q4_K_M", QuantPickerModel.ACTION)
    assert chat.args == [path]
    others = [r for r in range(model.rowCount()) if r != q4]
    assert all(model.index(r, QuantPickerModel.ACTION).data() == "Download" for r in others)
    keeper.apply("dark")
    screenshot(page, "model_page_dark.png")


def test_a_quant_already_in_my_models_is_not_offered_again(
    qtbot, services, ladder_hub, quant_ladder
):
    q6 = quant_ladder["Q6_K"]
    library = LibraryModel()
    here = LocalModel(
        name=f"{REPO}/{q6.name}",
        path=q6,
        quant="Q6_K",
        size_bytes=1,
        source="hf-cache",
        repo_id=REPO,
    )
    library.set_models([here])
    page = open_page(qtbot, services, ladder_hub, REPO, downloads=None, library=library)
    model = page.picker.model
    row = picker_row(page, "Q6_K")
    assert model.index(row, QuantPickerModel.ACTION).data() == DOWNLOADED
    assert model.index(row, 0).data(QuantRole.ActionEnabled)
    files_row = page.files.row_of(q6.name)
    assert page.files.index(files_row, QuantFilesModel.ACTION).data() == DOWNLOADED
    assert str(q6) in page.files.index(files_row, QuantFilesModel.ACTION).data(Qt.ToolTipRole)
    with qtbot.waitSignal(page.chat_requested, timeout=WAIT) as chat:
        click_picker(qtbot, page, "Q6_K", QuantPickerModel.ACTION)
    assert chat.args == [str(q6)]
    library.set_models([])  # removed from My Models: offered again
    assert model.index(row, QuantPickerModel.ACTION).data() != DOWNLOADED


# -- gated models -----------------------------------------------------------------------------------


@pytest.fixture
def gated_hub(loopback_hub, tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf" / "stored"))
    add_gguf_family(
        loopback_hub,
        "meta/Gated-GGUF",
        {gguf_name("G", "Q4_K_M"): os.urandom(5000)},
        gated="manual",
    )
    loopback_hub.valid_tokens.add("hf_granted_token")
    return loopback_hub


def gated_manager(hub) -> DownloadManager:
    return DownloadManager(
        Downloader(endpoint=hub.url, retry=RetryPolicy(attempts=1, sleep=lambda s: 0))
    )


def test_a_gated_model_without_a_token_says_once_what_to_do(
    qtbot, services, gated_hub, keeper
) -> None:
    keeper.apply("light")
    manager = gated_manager(gated_hub)
    page = open_page(qtbot, services, gated_hub, "meta/Gated-GGUF", manager, token=None)
    assert page.files.index(0, QuantFilesModel.ACTION).data(FileRole.Enabled) is False
    assert page.files.index(0, QuantFilesModel.ACTION).data(Qt.ToolTipRole) == NEEDS_TOKEN
    assert not page.picker.model.index(0, 0).data(QuantRole.ActionEnabled)
    note = page.token_box.note.text()
    assert f'href="{gated_hub.url}/meta/Gated-GGUF"' in note and f'href="{TOKEN_PAGE}"' in note
    words = re.sub("<[^>]+>", "", note)
    assert words.endswith(".") and words.count(". ") == 0  # one sentence
    assert "request access" in note
    everything = " ".join(label.text() for label in page.facts.values()) + note
    assert "ask the authors" not in everything  # said once, not twice in two ways
    assert page.token.isVisibleTo(page) and not page.status.isVisibleTo(page)
    screenshot(page, "model_page_gated.png")

    page.token.setText("hf_granted_token")
    with qtbot.waitSignal(page.token_saved, timeout=WAIT):
        qtbot.keyClick(page.token, Qt.Key_Return)
    assert page.files.index(0, QuantFilesModel.ACTION).data(FileRole.Enabled) is True
    assert not page.token.isVisibleTo(page)
    with qtbot.waitSignal(manager.finished, timeout=WAIT):
        page.file_action(page.files.entry(0).name)
    assert manager.shutdown()


def test_a_token_huggingface_hub_knows_is_used_without_asking(
    qtbot, services, gated_hub, monkeypatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_granted_token")
    manager = gated_manager(gated_hub)
    page = open_page(qtbot, services, gated_hub, "meta/Gated-GGUF", manager, token=None)
    assert not page.token.isVisibleTo(page)  # nothing asked
    assert "uses your saved Hugging Face token" in page.token_box.note.text()
    assert page.files.index(0, QuantFilesModel.ACTION).data(FileRole.Enabled) is True
    with qtbot.waitSignal(manager.finished, timeout=WAIT):
        page.file_action(page.files.entry(0).name)
    assert manager.shutdown()


# -- a repo without GGUF files ----------------------------------------------------------------------


def test_a_safetensors_repo_offers_a_search_for_gguf_versions(
    qtbot, services, loopback_hub, tmp_path, keeper
) -> None:
    loopback_hub.add_repo(
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        {"model.safetensors": os.urandom(2000), "config.json": b"{}", "README.md": b"# Smol"},
    )
    add_gguf_family(
        loopback_hub,
        "bartowski/SmolLM2-135M-Instruct-GGUF",
        {gguf_name("SmolLM2-135M-Instruct", "Q4_K_M"): b"x"},
    )
    keeper.apply("light")
    page = DiscoverPage(
        None,
        None,
        tmp_path / "models",
        client=HubClient(loopback_hub.url, token=False, retries=0),
        machine=estimate.Machine(ram_bytes=600 * MIB),
        machine_info=services.machine,
        cache_file=tmp_path / "discover.json",
        auto_search=False,
    )
    qtbot.addWidget(page)
    page.resize(1024, 640)
    page.show()
    with qtbot.waitSignal(page.model_page.loaded, timeout=WAIT):
        page.open_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    model_page = page.model_page
    assert model_page.no_gguf.isVisibleTo(page)
    assert "has no GGUF files" in model_page.no_gguf_text.text()
    assert not model_page.picker.isVisibleTo(page) and not model_page.files_box.isVisibleTo(page)
    assert model_page.gguf_search.text() == "Search for GGUF versions"
    screenshot(page, "model_page_no_gguf.png")

    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        qtbot.mouseClick(model_page.gguf_search, Qt.LeftButton)
    assert page.stack.currentIndex() == 0 and page.query.text() == "SmolLM2-135M-Instruct"
    # GGUF versions only: the original repo is not one
    assert [m.id for m in page.results_model.models()] == ["bartowski/SmolLM2-135M-Instruct-GGUF"]
