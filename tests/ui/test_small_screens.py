"""Every page fits a 1024x640 window; Chat's settings never widen it (issue 19)."""

import pytest

from app.core.config.settings import Settings
from app.ui.main_window import PAGES, MainWindow
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
