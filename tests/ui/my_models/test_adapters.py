"""My Models' LoRA adapters: a downloaded adapter is listed apart with the model it is for, its
folder opens and it can be deleted, and deleting it leaves its base model as it was.

Real files: the starter model and an adapter made for it (tests/support/lora.py), downloaded
from the loopback Hub into the Hugging Face cache as Discover downloads them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool

from app.core.common.paths import hf_hub_cache
from app.core.downloads.downloader import Downloader
from app.core.library import catalog
from app.ui.my_models.library_model import LibraryModel
from app.ui.my_models.page import ModelsPage
from tests.support.cells import shown_whole
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.lora import BASE_NAME, make_lora
from tests.support.screenshots import screenshot
from tests.ui.my_models.test_page import Answers

WAIT = 10_000
BASE_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
ADAPTER_REPO = "someone/SmolLM2-135M-Style-LoRA-GGUF"
ADAPTER_FILE = "SmolLM2-135M-Style-LoRA-F32.gguf"


@pytest.fixture(autouse=True)
def pool_drained():
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


@pytest.fixture
def downloaded(loopback_hub, starter_gguf, tmp_path) -> tuple[Path, Path]:
    """The base model and its adapter, downloaded from the Hub: (base, adapter)."""
    base_file = gguf_name("SmolLM2-135M-Instruct", "Q4_1")
    add_gguf_family(loopback_hub, BASE_REPO, {base_file: starter_gguf})
    add_gguf_family(
        loopback_hub,
        ADAPTER_REPO,
        {ADAPTER_FILE: make_lora(starter_gguf, tmp_path / "lora.gguf")},
        tags=["gguf", "lora", "base_model:adapter:HuggingFaceTB/SmolLM2-135M-Instruct"],
    )
    downloader = Downloader(endpoint=loopback_hub.url, token=False)
    base = downloader.download(BASE_REPO, base_file).path
    return base, downloader.download(ADAPTER_REPO, ADAPTER_FILE).path


@pytest.fixture
def page(qtbot, services, hearth_home, downloaded):
    answers = Answers()
    library = LibraryModel()

    def scan() -> None:
        library.set_models(
            catalog.list_models(
                hearth_home.models_dir, hf_hub_cache(), other_apps=False, adapters=True
            )
        )

    widget = ModelsPage(
        library,
        measure_store=services.stores.measurements,
        machine_info=services.machine,
        confirm=answers.confirm,
        open_url=lambda url: answers.opened.append(url.toLocalFile()),
    )
    qtbot.addWidget(widget)
    scan()
    widget.refresh_requested.connect(scan)
    widget.answers = answers
    widget.resize(1024, 640)
    widget.show()
    return widget


def test_a_downloaded_adapter_is_listed_apart_with_the_model_it_is_for(
    qtbot, qtmodeltester, page, downloaded, keeper
) -> None:
    base, adapter = downloaded
    assert [m.path for m in page.library.models()] == [base]  # never a model's row
    section = page.adapters
    qtmodeltester.check(section.model)
    assert section.isVisibleTo(page)
    assert section.title.text().startswith("<b>LoRA adapters</b> (1, ")
    shown = [[section.model.index(0, c).data() for c in range(section.model.columnCount())]]
    assert shown == [[ADAPTER_FILE, BASE_NAME, shown[0][2], ADAPTER_REPO]]
    assert section.model.index(0, 0).data(Qt.ToolTipRole) == (
        f"LoRA adapter for {BASE_NAME}\n{adapter}"
    )
    # the model's name and speed read whole in a 1024-px window (issue 19: "SmolLM2-1…-Instruct"
    # beside a roomy Architecture); the architecture and source step aside for them
    library, table = page.library, page.table
    speed = page.proxy.index(0, library.column("Speed here"))
    qtbot.waitUntil(lambda: speed.data() != "…", timeout=WAIT)  # worked out
    name = page.proxy.index(0, library.column("Name"))
    assert name.data() == BASE_NAME.replace(" ", "-")
    qtbot.waitUntil(lambda: shown_whole(table, name) and shown_whole(table, speed), timeout=WAIT)
    origin = page.proxy.index(0, library.column("From"))  # and the repo it came from
    assert shown_whole(table, origin) and origin.data() == BASE_REPO
    assert table.horizontalHeader().length() <= table.viewport().width()
    # the section fits a 1024x640 window under the models' table: its row whole, nothing cut
    for theme in ("light", "dark"):
        keeper.apply(theme)
        qtbot.waitUntil(lambda: row_shown(section.table), timeout=WAIT)
        assert shown_whole(table, name) and shown_whole(table, speed)
        assert page.width() == 1024 and not section.table.horizontalScrollBar().isVisible()
        assert page.table.height() > section.height()  # the models keep the room
        screenshot(page, f"my_models_adapters_{theme}.png")


def row_shown(table) -> bool:
    return table.viewport().height() >= table.rowHeight(0) > 0


def test_an_adapters_folder_opens_and_deleting_it_keeps_its_base_model(
    qtbot, page, downloaded
) -> None:
    base, adapter = downloaded
    table = page.adapters.table
    rect = table.visualRect(page.adapters.model.index(0, 0))
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())
    assert page.selected_models() == []  # one selection at a time
    assert f"LoRA adapter for {BASE_NAME}" in page.details.text()

    with qtbot.assertNotEmitted(page.chat_requested):
        qtbot.mouseClick(page.buttons["Chat with this model"], Qt.LeftButton)
    assert page.status.text().startswith("A LoRA adapter does not chat on its own: load ")

    qtbot.mouseClick(page.buttons["Show in folder"], Qt.LeftButton)
    assert page.answers.opened == [str(adapter.parent)]

    with qtbot.waitSignal(page.refresh_requested, timeout=WAIT):
        qtbot.mouseClick(page.buttons["Delete..."], Qt.LeftButton)
    (question,) = page.answers.questions
    assert ADAPTER_FILE in question and f"({BASE_NAME}) stays" in question
    assert not adapter.exists() and base.is_file()
    assert page.status.text().startswith(f"Deleted {ADAPTER_REPO}/{ADAPTER_FILE}")
    assert [m.path for m in page.library.models()] == [base] and page.library.adapters() == []
    assert not page.adapters.isVisibleTo(page)
    assert not list(hf_hub_cache().glob("models--someone--*/blobs/*"))  # its bytes are freed

    page.table.selectRow(0)  # the base model is still there to chat with
    assert page.selected_models()[0].path == base
