"""View > Theme at any time: every page built, both docks open, Discover's model page opened
and closed, dialogs opened and closed meanwhile; the pages show the theme chosen.

Two tests in a row that each styled the application and opened the model page crashed the
process (a segfault) on the switch to dark: the first test's theme was taken off while its
page waited for deletion (``ThemeKeeper.remove`` says how). The test runs twice for that
reason, and the crash's sequence is replayed inside one test below.
"""

from __future__ import annotations

import pytest
from PySide6.QtCharts import QChartView
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QThreadPool
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QToolTip, QWidget

from app.core.config.settings import Settings
from app.core.fit import estimate
from app.core.hub.client import HubClient
from app.ui import theme
from app.ui.application import apply_style
from app.ui.discover.model_page import ModelPage
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


def shows(widget: QWidget, name: str) -> bool:
    """Whether ``widget`` is drawn in theme ``name``'s colours: its palette's window colour,
    and that colour in the bottom left corner of what it paints."""
    window = theme.COLOURS[name]["window"]
    corner = widget.grab().toImage().pixelColor(2, widget.height() - 3).name()
    return widget.palette().color(QPalette.ColorRole.Window).name() == window == corner


# The offscreen platform says this of the tooltip it shows; not ours.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_many_switches_with_every_page_and_dock_open_show_each_theme(window, qtbot, qapp):
    """A user switching themes again and again, with everything open: the window stays, and
    every page, dock and Compare's charts show the theme chosen each time."""
    for name in PAGES:
        window.open_page(name)
    window.toggle_downloads()
    window.toggle_server()  # both docks built and open (tabbed), the server's in front
    window.toggle_downloads()  # the downloads' tab in front again
    discover = window.discover_page
    pages = [window.pages.widget(PAGES.index(name)) for name in PAGES]
    docks = [window.downloads_dock, window.server_dock]
    switches = 0
    for round_ in range(6):
        window.open_page("Discover")
        with qtbot.waitSignal(discover.model_page.loaded, timeout=WAIT):
            discover.open_model(REPO)
        about = window.show_about()  # dialogs open through some switches, closed in others
        settings = window.open_settings()
        dialogs = [about, settings]
        sidebar = window.sidebar
        QToolTip.showText(sidebar.mapToGlobal(QPoint(20, 20)), "a tooltip", sidebar)
        for choice in ("dark", "light", "system", "dark"):
            window.set_theme(choice)
            switches += 1
            shown = theme.shown_theme(qapp)
            assert shown == theme.resolve(choice, qapp)
            for name in PAGES:
                window.open_page(name)
                assert shows(window.pages.currentWidget(), shown), (round_, choice, name)
            for widget in (*docks, *dialogs):
                assert shows(widget, shown), (round_, choice, widget)
            # Compare's charts as painted: they stayed white in the dark theme
            for view in window.compare_page.chart.findChildren(QChartView):
                painted = view.grab().toImage().pixelColor(12, 12)
                assert (painted.lightness() < 128) == (shown == "dark"), (round_, choice)
            if choice == "system":
                about.close()  # deleted on close, between two switches
                dialogs.remove(about)
                discover.show_results()
        settings.reject()
        qtbot.waitUntil(lambda: not window.findChildren(type(settings)), timeout=WAIT)
    assert switches == 24 and window.isVisible()
    assert all(page is window.pages.widget(i) for i, page in enumerate(pages))


def test_a_page_deleted_after_the_theme_was_taken_off_and_put_back_leaves_switching_safe(
    qtbot, qapp, services, loopback_hub, keeper
):
    """The crash between two tests, in one: a model page closed and waiting for deletion while
    the theme is taken off (as the UI tests' keeper does after each test) and put back, then
    deleted; the next switch crashed the process in QStyleSheetStyle::repolish."""
    add_gguf_family(loopback_hub, REPO, {gguf_name("SmolLM2-135M-Instruct", "Q8_0"): b"x" * 1000})
    keeper.apply("light")
    page = ModelPage(
        client=HubClient(loopback_hub.url, token=False, retries=0),
        machine=estimate.Machine(ram_bytes=2**30),
        machine_info=services.machine,
    )
    page.resize(1024, 640)
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.show_repo(REPO)
    assert QThreadPool.globalInstance().waitForDone(WAIT)
    page.close()
    page.deleteLater()  # as pytest-qt leaves a test's widgets
    keeper.remove()  # the theme taken off while the page waits
    keeper.apply("light")  # and put back
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the page deleted
    for choice in ("dark", "light", "dark"):
        assert keeper.apply(choice) == choice
    other = QWidget()
    qtbot.addWidget(other)
    other.resize(100, 60)
    assert shows(other, "dark")
