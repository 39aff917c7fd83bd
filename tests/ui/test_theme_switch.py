"""View > Theme at any time: every page built, Discover's model page opened and closed.

Two tests in a row that each styled the application and opened the model page crashed the
process (a segfault) on the switch to dark. The test runs twice for that reason.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThreadPool

from app.core.config.settings import Settings
from app.ui import theme
from app.ui.application import apply_style
from app.ui.main_window import PAGES, MainWindow
from tests.support.hub_repos import add_gguf_family, gguf_name

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
WAIT = 20_000


@pytest.fixture
def window(qtbot, qapp, starter_home, loopback_hub, quant_ladder, keeper):
    add_gguf_family(
        loopback_hub,
        REPO,
        {gguf_name("SmolLM2-135M-Instruct", q): quant_ladder[q] for q in ("Q4_K_M", "Q8_0")},
        gguf={"total": 134515008, "architecture": "llama", "context_length": 8192},
    )
    apply_style(qapp, "light")  # as run_gui does, in each test
    win = MainWindow(starter_home, Settings(), hub_endpoint=loopback_hub.url)
    qtbot.addWidget(win)
    win.resize(1024, 640)
    with qtbot.waitSignal(win.library.modelReset, timeout=WAIT):
        win.show()  # the first scan follows the first paint
    yield win
    win.shutdown()
    assert QThreadPool.globalInstance().waitForDone(WAIT)


@pytest.mark.parametrize("round_", [1, 2])
def test_switching_themes_with_every_page_built_and_the_model_page_opened(
    window, qtbot, qapp, round_
):
    for name in PAGES:
        window.open_page(name)
    discover = window.discover_page
    window.open_page("Discover")
    with qtbot.waitSignal(discover.model_page.loaded, timeout=WAIT):
        discover.open_model(REPO)
    assert discover.stack.currentWidget() is discover.model_page
    for choice in ("dark", "light", "dark"):
        window.set_theme(choice)
        qtbot.wait(50)  # painted in the new theme
        assert theme.shown_theme(qapp) == choice
    discover.show_results()  # the model page closed
    for choice in ("light", "dark", "system"):
        window.set_theme(choice)
        for name in PAGES:
            window.open_page(name)
            window.pages.currentWidget().grab()  # painted in the new theme
    assert theme.shown_theme(qapp) in ("light", "dark")
