"""The window's menu bar: File, Edit, View and Help, each action with its keyboard shortcut.

A desktop app is expected to have one (issue 19): the shortcuts are how people move without the
mouse, and the menus are where they look for them. Every action calls a method the window or a
page already has; the menus hold no state of their own but the checked theme.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from app.ui.theme import THEMES

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

THEME_CHOICES = (("system", "As the &system"), ("light", "&Light"), ("dark", "&Dark"))


class WindowMenus:
    """Builds the menu bar of ``window``; ``actions`` by name, ``theme_actions`` by theme."""

    def __init__(self, window: MainWindow, pages: tuple[str, ...]) -> None:
        self.window = window
        self.actions: dict[str, QAction] = {}
        bar = window.menuBar()

        file = bar.addMenu("&File")
        self._add(file, "new_chat", "&New chat", "Ctrl+N", window.new_chat)
        self._add(file, "add_model", "&Add a model file...", "Ctrl+O", window.choose_model_file)
        file.addSeparator()
        self._add(file, "settings", "&Settings...", "Ctrl+,", window.open_settings)
        file.addSeparator()
        quit_action = self._add(file, "quit", "&Quit", "Ctrl+Q", window.close)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.actions["settings"].setMenuRole(QAction.MenuRole.PreferencesRole)

        edit = bar.addMenu("&Edit")
        self._add(edit, "search_chats", "&Search chats", "Ctrl+F", window.search_chats)
        self._add(edit, "focus_input", "&Write a message", "Ctrl+L", window.focus_message_box)
        # Ctrl+. is the platforms' "cancel what runs" (Cmd+. on macOS); Esc is left to the
        # widgets, which use it to close an editor or a popup.
        self._add(edit, "stop", "S&top the answer", "Ctrl+.", window.stop_answer)

        view = bar.addMenu("&View")
        for number, name in enumerate(pages, start=1):
            self._add(
                view,
                f"page:{name}",
                f"&{number} {name}",
                f"Ctrl+{number}",
                lambda _=False, n=name: window.open_page(n),
            )
        view.addSeparator()
        self._add(view, "downloads", "&Downloads", "Ctrl+J", window.toggle_downloads)
        self._add(view, "server", "Local &API server", "", window.toggle_server)
        view.addSeparator()
        themes = view.addMenu("&Theme")
        group = QActionGroup(themes)
        self.theme_actions: dict[str, QAction] = {}
        shown = window.settings.theme if window.settings.theme in THEMES else "system"
        for choice, label in THEME_CHOICES:
            action = themes.addAction(label)
            action.setCheckable(True)
            action.setChecked(choice == shown)
            action.triggered.connect(lambda _=False, c=choice: window.set_theme(c))
            group.addAction(action)
            self.theme_actions[choice] = action

        help_menu = bar.addMenu("&Help")
        about = self._add(help_menu, "about", "&About Hearth", "", window.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _add(
        self, menu: QMenu, name: str, label: str, keys: str, slot: Callable[..., object]
    ) -> QAction:
        action = menu.addAction(label)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(lambda _=False: slot())
        self.actions[name] = action
        return action
