"""The studio window driven as a user drives it, against the real starter model."""

import pytest

from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.ui.main_window import PAGES, MainWindow

LOAD_MS = 60_000


@pytest.fixture
def window(qtbot, starter_home):
    win = MainWindow(
        starter_home, Settings(sampling=Sampling(max_tokens=64, temperature=0.0, seed=1))
    )
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        win.show()
    yield win
    win.shutdown()


def test_sidebar_has_the_five_areas(window):
    labels = [window.sidebar.item(i).text() for i in range(window.sidebar.count())]
    assert labels == list(PAGES) == ["Discover", "My Models", "Chat", "Compare", "Hardware"]
    window.open_page("Compare")
    assert window.pages.currentWidget() is window.compare_page
    window.open_page("My Models")
    assert window.pages.currentWidget() is window.models_page


def test_only_chat_is_built_at_start_and_the_others_on_first_show(qtbot, starter_home):
    win = MainWindow(starter_home, Settings())
    qtbot.addWidget(win)
    assert list(win._built) == ["Chat"]
    assert win._downloads is None  # set up after the first paint
    win.show()
    qtbot.waitUntil(lambda: win._downloads is not None, timeout=5_000)
    win.downloads_button.click()
    assert win.downloads_dock.isVisible() and win.downloads_dock.widget() is win.downloads_panel
    assert win.pages.currentWidget() is win.chat_page
    win.sidebar.setCurrentRow(PAGES.index("Hardware"))  # a click in the sidebar
    assert list(win._built) == ["Chat", "Hardware"]
    assert win.pages.currentWidget() is win.hardware_page
    assert win.pages.count() == len(PAGES)
    assert win.pages.indexOf(win.hardware_page) == PAGES.index("Hardware")
    win.shutdown()


def test_starter_model_is_listed_and_loaded(window):
    assert window.library.rowCount() == 1
    assert window.library.models()[0].source == "starter"
    assert window.statusBar().currentMessage() == "1 local model"
    assert window.chat_page.model_box.currentText().startswith("SmolLM2-135M-Instruct")
    assert "loaded" in window.chat_page.model_status.text()


def test_a_broken_model_file_shows_a_message_and_the_app_goes_on(window, qtbot, starter_gguf):
    broken = window.paths.models_dir / "Broken-Q4_K_M.gguf"
    with open(starter_gguf, "rb") as src:
        broken.write_bytes(src.read(10_000_000))
    with qtbot.waitSignal(window.library.modelReset, timeout=10_000):
        window.refresh_library()
    with qtbot.waitSignal(window.session.load_failed, timeout=LOAD_MS):
        window.open_chat_with(str(broken))
    assert window.banner.isVisible()
    assert "Broken-Q4_K_M.gguf" in window.banner_text.text()
    assert "truncated or damaged" in window.banner_text.text()
    starter = next(m for m in window.library.models() if m.source == "starter")
    with qtbot.waitSignal(window.session.loaded, timeout=LOAD_MS):
        window.open_chat_with(str(starter.path))
    assert window.session.model.path == starter.path


def test_settings_survive_a_restart(qtbot, starter_home):
    first = MainWindow(starter_home, Settings.load(starter_home.settings_file))
    qtbot.addWidget(first)
    first.resize(700, 520)  # the offscreen screen is 800x600
    first.shutdown()
    saved = Settings.load(starter_home.settings_file)
    assert saved.window_geometry
    second = MainWindow(starter_home, saved)
    qtbot.addWidget(second)
    assert (second.size().width(), second.size().height()) == (700, 520)
    second.shutdown()


def test_the_machine_is_probed_once_for_every_page(window, qtbot):
    """The pages share the studio's services: one hardware report, one connections store."""
    machine = window.services.machine
    assert window.discover_page.machine_info is machine
    assert window.discover_page.model_page.machine_info is machine
    assert window.models_page.picker.machine_info is machine
    assert window.chat_page.connections is window.services.connections
    boards = (window.compare_page.side_by_side.board, window.compare_page.arena.board)
    assert all(board.connections is window.services.connections for board in boards)
    assert machine.probes <= 1  # the pages were built now, on first asking
    window.open_page("Discover")
    window.discover_page.fits.setChecked(True)  # "Fits this machine" needs the machine's memory
    qtbot.waitUntil(lambda: window.discover_page.machine is not None, timeout=30_000)
    assert boards[0]._machine() == window.discover_page.machine  # Compare's estimate
    assert machine.probes == 1  # asked three times, probed once


def test_settings_are_saved_off_the_window_and_a_failure_is_shown(qtbot, hearth_home, keeper):
    win = MainWindow(hearth_home, Settings())
    qtbot.addWidget(win)
    win.show()
    win.set_theme("dark")
    win.set_theme("light")  # the newest lands last
    qtbot.waitUntil(lambda: Settings.load(hearth_home.settings_file).theme == "light")
    hearth_home.settings_file.unlink()
    hearth_home.settings_file.mkdir()  # a file that cannot be written
    win.set_theme("dark")
    qtbot.waitUntil(win.banner.isVisible)
    assert "settings could not be saved" in win.banner_text.text()
    hearth_home.settings_file.rmdir()
    win.shutdown()  # the quit's save is made at once, after any still on the pool
    assert Settings.load(hearth_home.settings_file).theme == "dark"
