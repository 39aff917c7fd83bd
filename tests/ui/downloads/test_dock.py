"""The downloads dock in a 1024x640 window leaves the model page its quant table (issue 19: the
dock squeezed the page until the table showed only its header)."""

import pytest

from app.core.config.settings import Settings
from app.ui.main_window import MainWindow
from app.ui.quant_picker.model import QuantRole
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.screenshots import screenshot

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
LADDER = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"]
WAIT = 60_000


@pytest.fixture
def window(qtbot, starter_home, loopback_hub, quant_ladder):
    add_gguf_family(
        loopback_hub,
        REPO,
        {gguf_name("SmolLM2-135M-Instruct", q): quant_ladder[q] for q in LADDER},
        gguf={"total": 134515008, "architecture": "llama", "context_length": 8192},
    )
    win = MainWindow(starter_home, Settings(), hub_endpoint=loopback_hub.url)
    qtbot.addWidget(win)
    win.resize(1024, 640)
    with qtbot.waitSignal(win.session.loaded, timeout=WAIT):
        win.show()
    yield win
    win.shutdown()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_dock_leaves_the_quant_table_its_rows(qtbot, window, keeper, theme) -> None:
    keeper.apply(theme)
    window.open_page("Discover")
    page = window.discover_page
    with qtbot.waitSignal(page.model_page.loaded, timeout=WAIT):
        page.open_model(REPO)
    picker = page.model_page.picker
    qtbot.waitUntil(lambda: picker.model.rowCount() == len(LADDER), timeout=WAIT)
    window.toggle_downloads()
    qtbot.waitUntil(window.downloads_dock.isVisible, timeout=WAIT)
    qtbot.wait(10)  # let the dock and the page lay out
    assert window.size().toTuple() == (1024, 640)
    rows = picker.table.verticalHeader().defaultSectionSize()
    assert picker.table.viewport().height() >= 2 * rows  # rows, not only the header
    shown = picker.model.index(picker.model.row_of(picker.pick.key), picker.model.ACTION)
    picker.table.scrollTo(shown)
    button = picker.table.visualRect(shown)  # each row's Download, without scrolling sideways
    assert button.left() >= 0 and button.right() <= picker.table.viewport().width()
    assert window.downloads_dock.height() < window.height() // 3
    screenshot(window, f"model_page_with_downloads_{theme}.png")


def test_a_finished_download_leads_to_my_models_and_to_chat(qtbot, window) -> None:
    name = gguf_name("SmolLM2-135M-Instruct", "Q2_K")
    status = window.statusBar()
    qtbot.waitUntil(lambda: status.currentMessage() == "1 local model", timeout=WAIT)
    status.showMessage("Something else was said since")  # the count no longer shows
    with qtbot.waitSignal(window.library.modelReset, timeout=WAIT):  # rescanned when it ends
        with qtbot.waitSignal(window.downloads.finished, timeout=WAIT) as finished:
            window.downloads.enqueue(REPO, name)
    path = finished.args[0]
    # the count follows the download, without a rescan asked for (issue 19's walk)
    qtbot.waitUntil(lambda: status.currentMessage() == "2 local models", timeout=WAIT)
    panel = window.downloads_panel
    assert window.downloads_dock.isVisible() and panel.selected_key() == f"{REPO}/{name}"

    panel.buttons["show"].click()
    models = window.models_page
    assert window.pages.currentWidget() is models
    assert [str(m.path) for m in models.selected_models()] == [path]

    panel.buttons["chat"].click()
    assert window.pages.currentWidget() is window.chat_page
    assert window.chat_page.model_box.current_choice().path == path


@pytest.mark.parametrize("size", [(1024, 640), (1366, 768)])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_download_finished_beside_its_model_page(qtbot, window, keeper, theme, size) -> None:
    """The walk of issue 19 at a laptop's sizes: the quant table and the downloads list fit
    their widths, the finished bar shows full on its selected row."""
    keeper.apply(theme)
    window.resize(*size)
    window.open_page("Discover")
    page = window.discover_page
    with qtbot.waitSignal(page.model_page.loaded, timeout=WAIT):
        page.open_model(REPO)
    picker = page.model_page.picker
    qtbot.waitUntil(lambda: picker.model.rowCount() == len(LADDER), timeout=WAIT)
    name = gguf_name("SmolLM2-135M-Instruct", "Q2_K")
    with qtbot.waitSignal(window.library.modelReset, timeout=WAIT):
        with qtbot.waitSignal(window.downloads.finished, timeout=WAIT):
            window.downloads.enqueue(REPO, name)
    q2 = picker.model.row_of(name)
    qtbot.waitUntil(lambda: picker.model.index(q2, 0).data(QuantRole.Action) == "Downloaded · Chat")
    qtbot.wait(10)
    assert window.size().toTuple() == size
    for table in (picker.table, window.downloads_panel.table):
        assert table.horizontalHeader().length() <= table.viewport().width()
        assert not table.horizontalScrollBar().isVisible()
    picker.table.scrollTo(picker.model.index(q2, 0))  # its row says "Downloaded · Chat"
    screenshot(window, f"model_page_downloaded_{size[0]}_{theme}.png")
