"""Every page fits a 1024x640 window; Chat's settings never widen it (issue 19)."""

import pytest
from PySide6.QtWidgets import QScrollArea

from app.core.config.settings import Settings
from app.ui.common.columns import FLOOR
from app.ui.main_window import PAGES, MainWindow
from tests.support.cells import shown_text
from tests.support.screenshots import screenshot


@pytest.fixture
def window(qtbot, starter_home, keeper):
    keeper.apply("light")  # the README's 1024x640 screenshot shows the light theme
    win = MainWindow(starter_home, Settings())
    qtbot.addWidget(win)
    win.resize(1024, 640)
    with qtbot.waitSignal(win.session.loaded, timeout=60_000):  # as a user finds it
        win.show()
    yield win
    win.shutdown()


def test_every_page_fits_a_1024_by_640_window(window, qtbot):
    for name in PAGES:
        window.open_page(name)
        qtbot.wait(10)  # let the page's layout settle
        hint = window.minimumSizeHint()
        assert hint.width() <= 1024 and hint.height() <= 640, name
        assert window.width() == 1024, name


def sideways_scrollbars(window) -> list[str]:
    """The scroll areas in the window showing a horizontal scrollbar: the page scrolls
    sideways (a table's own columns are its own business: see the quant picker's tests)."""
    return [
        f"{type(area.parent()).__name__}/{type(area.widget()).__name__}"
        for area in window.findChildren(QScrollArea)
        if area.isVisible() and area.horizontalScrollBar().isVisible()
    ]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_with_both_docks_open_keeps_a_1024_by_640_window(window, qtbot, keeper, theme):
    """The walk of issue 19: the API server panel over a filled Hardware page made a 640-px
    window 714 px tall, Compare with the downloads dock 778 px. Each page scrolls inside."""
    keeper.apply(theme)
    window.toggle_downloads()
    window.toggle_server()
    for name in PAGES:
        window.open_page(name)
        if name == "Hardware":  # filled: its report and first readings shown
            hardware = window.hardware_page
            qtbot.waitUntil(lambda: hardware.report is not None, timeout=60_000)
            qtbot.waitUntil(lambda: "%" in hardware.cpu_caption.text(), timeout=60_000)
        qtbot.wait(10)  # let the page's layout settle
        assert window.server_dock.isVisible()  # in front; the downloads a tab beside it
        assert window.tabifiedDockWidgets(window.server_dock) == [window.downloads_dock]
        assert window.size().toTuple() == (1024, 640), name
        hint = window.minimumSizeHint()
        assert hint.width() <= 1024 and hint.height() <= 640, (name, hint)
        assert sideways_scrollbars(window) == [], name
        screenshot(window, f"docks_{name.lower().replace(' ', '_')}_1024_{theme}.png")


def test_chat_settings_open_in_a_1024_px_window_without_widening_it(window, qtbot):
    page = window.chat_page
    page.settings_button.setChecked(True)  # Chat > Settings
    qtbot.wait(10)
    assert window.size().toTuple() == (1024, 640)
    assert window.minimumSizeHint().width() <= 1024
    assert window.minimumSizeHint().height() <= 640  # the panel scrolls
    assert page.panel.isVisible()
    assert not page.sidebar.isVisible()  # the chat list steps aside while it is open
    screenshot(window, "chat_settings_1024.png")
    page.settings_button.setChecked(False)
    assert page.sidebar.isVisible() and not page.panel.isVisible()
    assert window.width() == 1024


def test_a_wide_window_shows_the_chat_list_and_the_settings_together(window, qtbot):
    window.resize(1400, 800)
    page = window.chat_page
    page.settings_button.setChecked(True)
    qtbot.wait(10)
    assert page.panel.isVisible() and page.sidebar.isVisible()


def test_my_models_with_two_models_keeps_the_window_1024_wide(window, qtbot, starter_gguf):
    # A newcomer's second model (the walk of issue 19): the summary beside the buttons once
    # widened the window to 1192 px.
    second = window.paths.models_dir / "SmolLM2-135M-Instruct-downloaded-from-Discover.Q4_1.gguf"
    second.hardlink_to(starter_gguf)
    with qtbot.waitSignal(window.library.modelReset, timeout=60_000):
        window.refresh_library()
    window.open_page("My Models")
    qtbot.waitUntil(lambda: window.models_page.summary.text().startswith("2 models,"))
    qtbot.wait(10)
    assert window.size().toTuple() == (1024, 640)
    assert window.minimumSizeHint().width() <= 1024
    table = window.models_page.table  # its columns within its width (it scrolled sideways)
    qtbot.waitUntil(lambda: table.horizontalHeader().length() <= table.viewport().width())
    assert not table.horizontalScrollBar().isVisible()
    # each name and speed read whole (issue 19: "SmolLM2-1…-Instruct" and a lone "…")
    library, proxy = window.library, window.models_page.proxy
    speeds = [proxy.index(r, library.column("Speed here")) for r in range(2)]
    qtbot.waitUntil(lambda: all(s.data() != "…" for s in speeds), timeout=60_000)
    qtbot.wait(10)  # the columns fitted to the speeds
    names = [proxy.index(r, library.column("Name")) for r in range(2)]
    starter = next(n for n in names if n.data() == "SmolLM2-135M-Instruct")
    long_name = next(n for n in names if n is not starter)
    for cell in (starter, *speeds):
        assert shown_text(table, cell) == cell.data()
    # a name too long for a 1024-px window keeps both its ends, and the most room there is
    shown = shown_text(table, long_name)
    assert shown.startswith("SmolLM2-135M") and shown.endswith("-from-Discover"), shown
    assert table.columnWidth(library.column("From")) == FLOOR  # "From" gave way to it
    assert table.isColumnHidden(library.column("Architecture"))  # and stepped aside


@pytest.mark.parametrize("page", ["Chat", "Hardware", "My Models"])
def test_the_api_server_panel_opens_without_making_the_window_taller(window, qtbot, page):
    window.open_page(page)
    window.show_error("No model is loaded yet.")  # a notice above the page takes its height
    window.toggle_server()  # the status bar's "API server: off" button
    qtbot.wait(10)
    assert window.server_dock.isVisible()
    assert window.size().toTuple() == (1024, 640)
    assert window.minimumSizeHint().height() <= 640


def test_an_answer_and_its_figures_keep_the_window_1024_wide(window, qtbot):
    # The walk of issue 19: the answer's figures ("123.0 tok/s · first token 0.17 s · ...")
    # beside "used 60 of 8,192 tokens" made the window 1029 px wide.
    page = window.chat_page
    page.input.setPlainText("Write one sentence about the sea.")
    page.send_button.click()
    qtbot.waitUntil(lambda: "finished" in page.stats_label.text(), timeout=60_000)
    qtbot.wait(10)
    assert window.size().toTuple() == (1024, 640)
    assert window.minimumSizeHint().width() <= 1024


def test_the_api_server_dock_opens_leaving_the_page_most_of_a_laptops_window(window, qtbot):
    """It opened at ~345 px of a 768-px window, most of it an empty request log, and squeezed
    the page above to a strip (issue 19's walk): the form and three rows of the log."""
    window.resize(1366, 768)
    window.open_page("Hardware")
    window.toggle_server()
    qtbot.waitUntil(lambda: window.server_dock.isVisible())
    qtbot.wait(10)  # laid out
    assert window.pages.height() >= window.height() // 2, window.server_dock.height()
    panel = window.server_dock.widget()
    assert panel.log_view.isVisible() and panel.port_box.isVisible()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_chat_with_an_image_and_long_figures_overlaps_nothing_beside_the_downloads_dock(
    window, qtbot, keeper, theme
):
    """The walk of issue 19: at 1024x640 with the downloads dock open, an attached image and
    figures wrapped to two lines squeezed Send, Stop and Image... over each other (~12 px)."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QImage

    from app.ui.chat import image_data

    keeper.apply(theme)
    window.toggle_downloads()
    window.open_page("Chat")
    page = window.chat_page
    picture = QImage(80, 60, QImage.Format.Format_RGB32)
    picture.fill(QColor("#3b7ea1"))
    page.attachments.add(image_data.from_image(picture))
    figures = (
        "78.6 tok/s · first token 0.23 s · 24 tokens · max tokens reached · drafted 12 of 24 "
        "tokens, 10 accepted · context 8,192 tokens"
    )
    page.stats_label.setText(figures)
    qtbot.wait(10)
    assert window.size().toTuple() == (1024, 640)
    parts = {
        "figures": page.stats_label,
        "context": page.context_meter,
        "images": page.attachments,
        "message box": page.input,
        "Send": page.send_button,
        "Stop": page.stop_button,
        "Image...": page.images.attach_button,
    }
    rects: dict[str, QRect] = {}
    for name, widget in parts.items():
        assert widget.isVisible(), name
        assert widget.height() >= widget.minimumSizeHint().height(), name
        rects[name] = QRect(widget.mapTo(page, widget.rect().topLeft()), widget.size())
    for name, rect in rects.items():
        for other, other_rect in rects.items():
            assert name == other or not rect.intersects(other_rect), (name, other)
    assert page.stats_label.toolTip() == figures  # cut to one line, whole in its tooltip
    screenshot(window, f"chat_image_downloads_1024_{theme}.png")
