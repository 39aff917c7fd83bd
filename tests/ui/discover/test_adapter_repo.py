"""A repo of LoRA adapters on the model page: what it is for instead of a quant list, and once
downloaded, the adapter beside its base model in the library and in Chat's adapter chooser.

Real files: the starter model and an adapter made for it (random low-rank weights of its
shapes, tests/support/lora.py), published on the loopback Hub.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.common.paths import hf_hub_cache
from app.core.downloads.downloader import Downloader
from app.core.downloads.http import RetryPolicy
from app.core.fit import estimate
from app.core.hub.client import HubClient
from app.core.library.catalog import list_models
from app.ui.chat.settings_panel import ChatSettingsPanel
from app.ui.discover.model_page import ModelPage
from app.ui.discover.page import DiscoverPage
from app.ui.discover.result_delegate import CHIP_ADAPTER, FIT_COLOURS
from app.ui.discover.results_model import QuantFilesModel, Role
from app.ui.downloads.manager import DownloadManager
from app.ui.my_models.library_model import LibraryModel
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.lora import BASE_NAME, make_lora
from tests.support.screenshots import screenshot
from tests.ui.discover.test_model_page import MIB, WAIT, pool_drained  # noqa: F401 - autouse

BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"
BASE_REPO = f"{BASE}-GGUF"
TAGGED = "someone/SmolLM2-135M-Style-LoRA-GGUF"
UNTAGGED = "someone/Untagged-LoRA-GGUF"
ADAPTER_FILE = "SmolLM2-135M-Style-LoRA-F32.gguf"


@pytest.fixture
def adapter_hub(loopback_hub, starter_gguf, tmp_path):
    lora = make_lora(starter_gguf, tmp_path / "lora.gguf")
    add_gguf_family(
        loopback_hub, BASE_REPO, {gguf_name("SmolLM2-135M-Instruct", "Q4_1"): starter_gguf}
    )
    add_gguf_family(
        loopback_hub,
        TAGGED,
        {ADAPTER_FILE: lora},
        base_model=BASE,
        tags=["gguf", "lora", f"base_model:adapter:{BASE}"],
    )
    add_gguf_family(loopback_hub, UNTAGGED, {"untagged-lora.gguf": lora}, tags=["gguf"])
    return loopback_hub


@pytest.fixture
def manager(adapter_hub):
    downloads = DownloadManager(
        Downloader(
            endpoint=adapter_hub.url, token=False, retry=RetryPolicy(attempts=1, sleep=lambda s: 0)
        )
    )
    yield downloads
    assert downloads.shutdown()


def open_adapter_page(qtbot, services, hub, repo: str, downloads=None) -> ModelPage:
    page = ModelPage(
        client=HubClient(hub.url, token=False, retries=0),
        downloads=downloads,
        machine=estimate.Machine(ram_bytes=600 * MIB),
        machine_info=services.machine,
    )
    qtbot.addWidget(page)
    page.resize(1024, 640)
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.show_repo(repo)
    return page


def test_an_adapter_repo_shows_its_base_and_lands_beside_it_for_chat(
    qtbot, services, adapter_hub, manager, hearth_home, keeper
):
    keeper.apply("light")
    page = open_adapter_page(qtbot, services, adapter_hub, TAGGED, manager)
    assert page.adapter_note.isVisibleTo(page)
    assert page.adapter_note.text().startswith(f"LoRA adapter for {BASE}. ")
    assert page.facts["Base model"].text() == BASE
    assert page.facts["Parameters"].text() == page.facts["Context"].text() == "—"
    assert not page.picker.isVisibleTo(page)  # no quants to pick: it cannot chat
    assert page.files_table.isColumnHidden(QuantFilesModel.FIT)
    screenshot(page, "model_page_adapter_light.png")
    keeper.apply("dark")
    screenshot(page, "model_page_adapter_dark.png")

    table = page.files_table
    rect = table.visualRect(page.files.index(0, QuantFilesModel.ACTION))
    with qtbot.waitSignal(manager.finished, timeout=WAIT) as finished:
        qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())
    adapter = Path(finished.args[0])
    assert adapter.name == ADAPTER_FILE
    assert page.files.index(0, QuantFilesModel.ACTION).data() == "Downloaded"  # never "Chat"
    with qtbot.waitSignal(manager.finished, timeout=WAIT) as finished:
        manager.enqueue(BASE_REPO, gguf_name("SmolLM2-135M-Instruct", "Q4_1"))
    base = Path(finished.args[0])
    cache = hf_hub_cache()  # the library folder Hearth's downloads and their base share
    assert cache in adapter.parents and cache in base.parents

    library = LibraryModel()
    library.set_models(list_models(hearth_home.models_dir, cache, other_apps=False, adapters=True))
    assert [m.path for m in library.models()] == [base]  # My Models and Chat's picker
    assert [(m.path, m.adapter_of) for m in library.adapters()] == [(adapter, BASE_NAME)]

    panel = ChatSettingsPanel(library.adapters)
    qtbot.addWidget(panel)
    panel.adapter_button.fill()
    actions = {a.text(): a for a in panel.adapter_button.menu().actions() if a.text()}
    shown = f"{ADAPTER_FILE} · for {BASE_NAME}"
    assert list(actions) == ["None", shown, "Choose a file..."]
    actions[shown].trigger()
    assert panel.adapter_button.text() == ADAPTER_FILE
    assert panel.settings().lora_path == str(adapter)
    assert panel.adapter_strength.isEnabled()
    actions["None"].trigger()
    assert panel.settings().lora_path == ""


def test_an_adapter_the_listing_does_not_tag_is_told_by_its_header(qtbot, services, adapter_hub):
    page = open_adapter_page(qtbot, services, adapter_hub, UNTAGGED)
    qtbot.waitUntil(lambda: page.adapter_note.isVisibleTo(page), timeout=WAIT)
    assert page.adapter_note.text().startswith(f"LoRA adapter for {BASE_NAME}. ")
    assert not page.picker.isVisibleTo(page)


def painted(page: DiscoverPage, row: int, colour) -> bool:
    """Whether ``colour`` (a chip's or badge's background) is painted in ``row``."""
    image = page.results.viewport().grab().toImage()
    rect = page.results.visualRect(page.results_model.index(row))
    return any(
        image.pixelColor(x, y) == colour
        for x in range(rect.left(), rect.right(), 2)
        for y in range(rect.top(), rect.bottom(), 2)
    )


def test_discover_marks_an_adapter_repo_as_such_without_a_fit_badge(
    qtbot, services, adapter_hub, tmp_path, keeper
):
    keeper.apply("light")
    page = DiscoverPage(
        None,
        None,
        tmp_path / "models",
        client=HubClient(adapter_hub.url, token=False, retries=0),
        machine=estimate.Machine(ram_bytes=16 * 2**30),
        machine_info=services.machine,
        cache_file=tmp_path / "discover.json",
        auto_search=False,
    )
    qtbot.addWidget(page)
    page.resize(1024, 640)
    page.show()
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.fits.setChecked(True)  # "Fits this machine": models get a badge, adapters none
    results = page.results_model
    rows = {results.index(r).data(Role.Id): r for r in range(results.rowCount())}
    assert set(rows) == {BASE_REPO, TAGGED, UNTAGGED}
    base, adapter = results.index(rows[BASE_REPO]), results.index(rows[TAGGED])
    assert base.data(Role.Fit).fits and "LoRA adapter" not in base.data(Role.Tags)
    assert adapter.data(Role.Tags) == ["LoRA adapter"]
    assert adapter.data(Role.AdapterOf) == BASE
    assert adapter.data(Role.Fit) is None and adapter.data(Role.FitUnknown) is False
    assert adapter.data(Role.SizeRange) == ""  # "135M" in its name is its base model's size
    assert f"LoRA adapter for {BASE}" in adapter.data(Qt.ToolTipRole)
    assert painted(page, rows[TAGGED], CHIP_ADAPTER)
    assert not painted(page, rows[TAGGED], FIT_COLOURS[True][0])
    assert painted(page, rows[BASE_REPO], FIT_COLOURS[True][0])
    # one the listing does not tag is a model here; its page tells it by its header
    assert results.index(rows[UNTAGGED]).data(Role.AdapterOf) is None
    screenshot(page, "discover_adapter_light.png")
    keeper.apply("dark")
    assert painted(page, rows[TAGGED], CHIP_ADAPTER)  # chips are light in both themes
    screenshot(page, "discover_adapter_dark.png")
