"""The menu bar, its shortcuts, Help > About and File > Settings, as a user meets them (issue 19)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from app.core.config.settings import Settings
from app.ui import theme
from app.ui.main_window import PAGES, MainWindow
from tests.support.screenshots import screenshot


@pytest.fixture
def window(qtbot, hearth_home, keeper):
    win = MainWindow(hearth_home, Settings.load(hearth_home.settings_file))
    qtbot.addWidget(win)
    win.resize(1024, 640)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    yield win
    win.shutdown()


def menu_titles(window) -> list[str]:
    return [a.text().replace("&", "") for a in window.menuBar().actions()]


def shown_actions(menu) -> dict[str, str]:
    """What a menu lists: label -> shortcut, as the user reads them."""
    return {
        a.text().replace("&", ""): a.shortcut().toString()
        for a in menu.actions()
        if not a.isSeparator()
    }


def test_the_menu_bar_has_file_edit_view_help_with_shortcuts(window):
    assert menu_titles(window) == ["File", "Edit", "View", "Help"]
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert shown_actions(menus["File"]) == {
        "New chat": "Ctrl+N",
        "Add a model file...": "Ctrl+O",
        "Settings...": "Ctrl+,",
        "Quit": "Ctrl+Q",
    }
    assert shown_actions(menus["Edit"]) == {
        "Search chats": "Ctrl+F",
        "Write a message": "Ctrl+L",
        "Stop the answer": "Ctrl+.",
    }
    view = shown_actions(menus["View"])
    for number, name in enumerate(PAGES, start=1):
        assert view[f"{number} {name}"] == f"Ctrl+{number}"
    assert "Theme" in view and "About Hearth" in shown_actions(menus["Help"])


def test_shortcuts_switch_pages_start_a_chat_and_focus_the_boxes(window, qtbot):
    for number, name in enumerate(PAGES, start=1):
        qtbot.keyClick(window, Qt.Key(Qt.Key_0 + number), Qt.ControlModifier)
        assert window.sidebar.currentItem().text() == name
        assert window.pages.currentIndex() == PAGES.index(name)
    page = window.chat_page
    before = page.chats.rowCount()
    qtbot.keyClick(window, Qt.Key_N, Qt.ControlModifier)
    assert window.pages.currentWidget() is page
    assert page.chats.rowCount() == before + 1 and page.chat_id
    assert page.sidebar.current_id() == page.chat_id
    qtbot.keyClick(window, Qt.Key_F, Qt.ControlModifier)
    assert QApplication.focusWidget() is page.sidebar.search
    qtbot.keyClick(window, Qt.Key_L, Qt.ControlModifier)
    assert QApplication.focusWidget() is page.input


def test_ctrl_comma_opens_settings_and_about_lists_versions_and_licenses(window, qtbot):
    from app.ui.about import AboutDialog
    from app.ui.settings_dialog import SettingsDialog

    qtbot.keyClick(window, Qt.Key_Comma, Qt.ControlModifier)
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClick(window, Qt.Key_Comma, Qt.ControlModifier)  # again: the same one, not two
    assert [d for d in window.findChildren(SettingsDialog) if d.isVisible()] == [dialog]
    dialog.reject()
    window.menus.actions["about"].trigger()
    about = window.findChild(AboutDialog)
    qtbot.waitExposed(about)
    import app

    assert about.title.text() == f"Hearth {app.__version__}"
    parts = about.shown_parts()
    assert parts["Qt"][1] == "LGPL-3.0" and parts["PySide6"][1] == "LGPL-3.0"
    assert parts["llama.cpp"][1] == "MIT" and parts["llama-cpp-python"] == ("0.3.36", "MIT")
    assert parts["huggingface_hub"][1] == "Apache-2.0"
    assert parts["SmolLM2 135M Instruct"] == ("Q4_1", "Apache-2.0")
    assert all(version for version, _license in parts.values())
    about.reject()


def test_settings_dialog_saves_through_the_settings_file(window, qtbot, hearth_home, tmp_path):
    from app.ui.settings_dialog import SettingsDialog

    folder = tmp_path / "more models"
    folder.mkdir()
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    dialog.choose_folder = lambda _parent: str(folder)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    qtbot.mouseClick(dialog.add_button, Qt.LeftButton)
    assert [dialog.folders.item(i).text() for i in range(dialog.folders.count())] == [str(folder)]
    dialog.context.setValue(4096)
    dialog.speed.setValue(15.0)
    dialog.port.setValue(8123)
    dialog.start_server.setChecked(True)
    with qtbot.waitSignal(window.library.modelReset, timeout=10_000):  # the new folder is read
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.LeftButton)
    assert theme.shown_theme(QApplication.instance()) == "dark"
    assert window.theme_actions["dark"].isChecked()
    qtbot.waitUntil(lambda: Settings.load(hearth_home.settings_file).api_port == 8123)  # pool
    saved = Settings.load(hearth_home.settings_file)
    assert saved.notice == ""
    assert (saved.theme, saved.model_folders, saved.n_ctx) == ("dark", [str(folder)], 4096)
    assert (saved.comfortable_tok_s, saved.api_port, saved.api_start_with_studio) == (
        15.0,
        8123,
        True,
    )
    assert window.server_panel.port_box.value() == 8123  # the API server uses the new port
    again = window.open_settings()  # shows what was saved
    assert again.theme.currentData() == "dark" and again.port.value() == 8123
    assert again.context.value() == 4096 and again.speed.value() == 15.0
    again.reject()


def test_cancel_changes_nothing(window, hearth_home):
    dialog = window.open_settings()
    dialog.port.setValue(9000)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert window.settings.api_port == 8080 and window.settings.theme == "system"
    assert not hearth_home.settings_file.exists() or (
        Settings.load(hearth_home.settings_file).api_port == 8080
    )


@pytest.mark.parametrize("name", ["light", "dark"])
def test_screenshots_of_the_menu_about_and_settings(window, qtbot, name):
    """The README's pictures; each must render readable text on its theme's background."""
    from tests.ui.test_theme import lightness_spread

    window.set_theme(name)
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    view.ensurePolished()  # drawn as it opens, without a popup: offscreen cannot grab a mouse
    view.resize(view.sizeHint())
    background, text = lightness_spread(view)
    assert (background < 90) if name == "dark" else (background > 170)
    assert abs(text - background) > 110
    screenshot(view, f"menu_view_{name}.png")
    about = window.show_about()
    qtbot.waitExposed(about)
    screenshot(about, f"about_{name}.png")
    about.reject()
    dialog = window.open_settings()
    qtbot.waitExposed(dialog)
    background, text = lightness_spread(dialog.port)
    assert abs(text - background) > 110
    screenshot(dialog, f"settings_{name}.png")
    dialog.reject()


def test_ctrl_period_stops_the_answer(qtbot, starter_home):
    """Edit > Stop the answer (Ctrl+.) ends a streaming answer as the Stop button does."""
    win = MainWindow(starter_home, Settings())
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.session.loaded, timeout=60_000):
        win.show()
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    page = win.chat_page
    try:
        page.panel.max_tokens.setValue(400)
        page.input.setPlainText("Write a long story about a lighthouse keeper.")
        with qtbot.waitSignal(page.answer_token, timeout=90_000):
            qtbot.mouseClick(page.send_button, Qt.LeftButton)
        with qtbot.waitSignal(page.answer_finished, timeout=90_000) as done:
            qtbot.keyClick(win, Qt.Key_Period, Qt.ControlModifier)
        assert done.args[0].stop_reason == "user"
        assert page.send_button.isEnabled() and not page.stop_button.isEnabled()
    finally:
        win.shutdown()


def test_the_api_server_starts_with_the_studio_on_the_port_set(qtbot, hearth_home):
    import socket

    with socket.socket() as probe:  # a port free on this machine now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    win = MainWindow(hearth_home, Settings(api_port=port, api_start_with_studio=True))
    qtbot.addWidget(win)
    try:
        win.show()
        qtbot.waitUntil(lambda: win.server_button.text() == "API server: on", timeout=10_000)
        assert f"127.0.0.1:{port}" in win.server_panel.status_label.text()
    finally:
        win.shutdown()
    quiet = MainWindow(hearth_home, Settings(api_port=port))  # off unless asked for
    qtbot.addWidget(quiet)
    try:
        quiet.show()
        qtbot.waitUntil(lambda: quiet._downloads is not None, timeout=10_000)  # after the scan
        assert quiet.server_button.text() == "API server: off" and quiet._server_panel is None
    finally:
        quiet.shutdown()
