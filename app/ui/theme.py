"""Light and dark themes: one stylesheet template, two sets of colours, the system's choice.

The stylesheet used to set text colours without backgrounds, so on a dark desktop spin boxes,
combo boxes and tab labels showed dark text on dark fields (issue 19). Now every colour comes
from one of two designed sets, the application palette is set from the same set (so what the
stylesheet leaves alone, such as scroll bars and check boxes, matches), and "system" follows
the desktop's light or dark scheme, also when it changes while Hearth runs (Qt 6.5+).
"""

from __future__ import annotations

import re

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from app.core.common.resources import resource

THEMES = ("system", "light", "dark")  # the setting's values; anything else means "system"

LIGHT = {
    "window": "#f6f7f9",
    "text": "#1f2430",
    "hint": "#5c667a",
    "sidebar": "#1f2430",
    "sidebar_text": "#c9d1e0",
    "sidebar_selected": "#343b4c",
    "sidebar_hover": "#2a3040",
    "field": "#ffffff",
    "border": "#cfd5df",
    "field_border": "#d6dbe4",
    "hover": "#eef1f6",
    "disabled_text": "#9aa3b2",
    "disabled_field": "#f1f3f6",
    "checked": "#ffe4cf",
    "checked_border": "#f0b48a",
    "accent": "#ff7a1a",
    "accent_hover": "#f06a0a",
    "accent_disabled": "#ffc9a3",
    "accent_text": "#ffffff",
    "selection": "#ffd9bd",
    "grid": "#eceff4",
    "header": "#f0f2f6",
    "status": "#eceff4",
    "status_text": "#44506a",
    "error_text": "#b3261e",
    "error": "#fdecea",
    "note_text": "#6b4e00",
    "note": "#fff4d6",
    "user_name": "#334155",  # Chat's speakers: "You" in slate, the assistant in rust
    "assistant_name": "#c2570c",
}

DARK = {
    "window": "#1b1e25",
    "text": "#e6e9ef",
    "hint": "#9ba5b9",
    "sidebar": "#13151b",
    "sidebar_text": "#c9d1e0",
    "sidebar_selected": "#2b3142",
    "sidebar_hover": "#20242f",
    "field": "#252932",
    "border": "#3c4252",
    "field_border": "#363c4a",
    "hover": "#2f3441",
    "disabled_text": "#6b7385",
    "disabled_field": "#22252d",
    "checked": "#5a3a22",
    "checked_border": "#b36a35",
    "accent": "#ff7a1a",
    "accent_hover": "#f06a0a",
    "accent_disabled": "#6b4a33",
    "accent_text": "#ffffff",
    "selection": "#7a4520",
    "grid": "#2c313c",
    "header": "#242833",
    "status": "#15181f",
    "status_text": "#aab3c5",
    "error_text": "#ffb4ab",
    "error": "#4a1f1c",
    "note_text": "#ffe08a",
    "note": "#3d3214",
    "user_name": "#a9b8cc",  # slate was unreadable on the dark field
    "assistant_name": "#ff9a52",  # the light theme's rust read dim on it
}

COLOURS = {"light": LIGHT, "dark": DARK}


def colours_of(widget: QWidget) -> dict[str, str]:
    """The colours of the theme ``widget`` is drawn in, told by its palette (the platform's
    look too, when Hearth's theme is off), for views that write colours into their HTML: they
    draw again on ``QEvent.PaletteChange`` (a colour written in stays when the theme changes).
    """
    dark = widget.palette().color(QPalette.ColorRole.Base).lightness() < 128
    return DARK if dark else LIGHT


def system_scheme(app: QGuiApplication) -> str:
    """ "dark" or "light", as the desktop says; when it does not say, the lightness of the
    palette the platform gave the application."""
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return "dark"
    if scheme == Qt.ColorScheme.Light:
        return "light"
    keeper = _keeper(app)
    platform = keeper.platform_palette if keeper else app.palette()
    return "dark" if platform.color(QPalette.ColorRole.Window).lightness() < 128 else "light"


def resolve(choice: str, app: QGuiApplication) -> str:
    """The theme shown for the setting ``choice``: "light" or "dark"."""
    return choice if choice in COLOURS else system_scheme(app)


_NAMED = re.compile(r"#[0-9a-fA-F]{6}/\*(\w+)\*/")  # a colour and its name: #1f2430/*text*/
# An image drawn per theme, named as the light one: url(icons/combo-arrow-light.svg)
_IMAGE = re.compile(r"url\(icons/([\w-]+)-light\.svg\)")


def stylesheet(name: str) -> str:
    """style.qss (written in the light theme's colours) with each named colour swapped for
    that colour of theme ``name``. The file stays a valid stylesheet as it is."""
    colours = COLOURS[name]
    text = resource("style.qss").read_text(encoding="utf-8")
    text = _IMAGE.sub(lambda m: f"url({resource('icons').as_posix()}/{m[1]}-{name}.svg)", text)
    return _NAMED.sub(lambda m: colours[m.group(1)], text)


def palette(name: str) -> QPalette:
    c = {key: QColor(value) for key, value in COLOURS[name].items()}
    p = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, c["window"]),
        (QPalette.ColorRole.WindowText, c["text"]),
        (QPalette.ColorRole.Base, c["field"]),
        (QPalette.ColorRole.AlternateBase, c["header"]),
        (QPalette.ColorRole.Text, c["text"]),
        (QPalette.ColorRole.Button, c["field"]),
        (QPalette.ColorRole.ButtonText, c["text"]),
        (QPalette.ColorRole.PlaceholderText, c["hint"]),
        (QPalette.ColorRole.Highlight, c["selection"]),
        (QPalette.ColorRole.HighlightedText, c["text"]),
        (QPalette.ColorRole.ToolTipBase, c["field"]),
        (QPalette.ColorRole.ToolTipText, c["text"]),
        (QPalette.ColorRole.Link, c["accent"]),
        (QPalette.ColorRole.BrightText, c["error_text"]),
        # Fusion's bevels and lines (the tab bar's base line was white on the dark theme)
        (QPalette.ColorRole.Light, c["field_border"]),
        (QPalette.ColorRole.Midlight, c["field_border"]),
        (QPalette.ColorRole.Mid, c["border"]),
        (QPalette.ColorRole.Dark, c["border"]),
        (QPalette.ColorRole.Shadow, c["grid"]),
    ):
        p.setColor(role, colour)
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, c["disabled_text"])
    return p


class ThemeKeeper(QObject):
    """Holds the chosen theme for the application and follows the desktop's scheme while the
    choice is "system". One per application (a child of it)."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.setObjectName("themeKeeper")
        self.app = app
        self.platform_palette = QPalette(app.palette())  # before Hearth's replaces it
        self.choice = "system"
        self.shown = ""
        app.styleHints().colorSchemeChanged.connect(self._on_scheme_changed)

    def apply(self, choice: str) -> str:
        self.choice = choice if choice in THEMES else "system"
        name = resolve(self.choice, self.app)
        self.shown = name
        self.app.setPalette(palette(name))
        self.app.setStyleSheet(stylesheet(name))
        return name

    def remove(self) -> None:
        """Hearth's look taken off: the platform's palette and no application style sheet
        (the tests put the platform's look back after each test that styled the application).

        Qt 6.11 leaves the WA_StyleSheet flag on widgets that the style sheet style styled
        again while it was being removed (item views, their scroll bars), and frees the
        caches that would have heard of their deletion. Under the next style sheet such a
        widget is cached without that notice, so once deleted it is a dangling entry, and the
        next theme switch crashed in QStyleSheetStyle::repolish (a segfault, issue 19: 14
        stale widgets after a model page's test, the next test's switch to dark crashed every
        run). No style sheet is left to own the flag, so it is cleared where neither the
        widget nor an ancestor has a style sheet of its own."""
        self.app.setStyleSheet("")
        self.app.setPalette(self.platform_palette)
        self.shown = ""
        for widget in QApplication.allWidgets():
            if widget.testAttribute(Qt.WidgetAttribute.WA_StyleSheet) and not _own_sheet(widget):
                widget.setAttribute(Qt.WidgetAttribute.WA_StyleSheet, False)
                widget.setAttribute(Qt.WidgetAttribute.WA_StyleSheetTarget, False)

    @Slot(Qt.ColorScheme)
    def _on_scheme_changed(self, _scheme) -> None:
        if self.choice == "system":
            self.apply("system")


def _own_sheet(widget: QWidget) -> bool:
    """Whether ``widget`` or one of its ancestors has a style sheet of its own."""
    shown: QWidget | None = widget
    while shown is not None:
        if shown.styleSheet():
            return True
        shown = shown.parentWidget()
    return False


def _keeper(app: QGuiApplication) -> ThemeKeeper | None:
    """The application's ThemeKeeper, found by its name: ``findChild(ThemeKeeper)`` first
    makes PySide6 build enums of classes it had not loaded, ~6 ms of the start (issue 19)."""
    keeper = app.findChild(QObject, "themeKeeper")
    return keeper if isinstance(keeper, ThemeKeeper) else None


def apply_theme(app: QApplication, choice: str) -> str:
    """Show the theme the setting ``choice`` means; returns "light" or "dark"."""
    keeper = _keeper(app) or ThemeKeeper(app)
    return keeper.apply(choice)


def shown_theme(app: QApplication) -> str:
    keeper = _keeper(app)
    return keeper.shown if keeper else ""
