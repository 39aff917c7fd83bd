"""Light and dark themes: fields keep readable text on a dark desktop (issue 19)."""

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.core.config.settings import Settings
from app.ui import theme
from app.ui.main_window import MainWindow
from tests.support.screenshots import screenshot


@pytest.fixture
def window(qtbot, starter_home, keeper):
    win = MainWindow(starter_home, Settings())
    qtbot.addWidget(win)
    win.resize(1280, 760)
    with qtbot.waitSignal(win.session.loaded, timeout=60_000):  # as a user finds it
        win.show()
    yield win
    win.shutdown()


def lightness_spread(widget) -> tuple[int, int]:
    """(background, text) lightness of what ``widget`` shows: the most common lightness, and
    the one furthest from it that covers at least a few pixels (the letters)."""
    image = widget.grab().toImage()
    counts: dict[int, int] = {}
    for y in range(2, image.height() - 2):
        for x in range(2, image.width() - 2):
            light = QColor(image.pixel(x, y)).lightness()
            counts[light] = counts.get(light, 0) + 1
    background = max(counts, key=counts.get)
    marks = [light for light, n in counts.items() if n >= 4]
    text = max(marks, key=lambda light: abs(light - background))
    return background, text


def fields(window):
    """A spin box, a combo box and a tab label: the fields that were dark on dark."""
    page = window.chat_page
    page.settings_button.setChecked(True)
    compare = window.compare_page
    return {
        "spin box": page.panel.temperature,
        "combo box": page.panel.preset,
        "tab labels": compare.tabs.tabBar(),
    }


@pytest.mark.parametrize("name", ["dark", "light"])
def test_fields_show_readable_text_in_both_themes(window, qtbot, name):
    window.set_theme(name)
    found = fields(window)
    window.open_page("Compare")
    window.open_page("Chat")
    for label, widget in found.items():
        background, text = lightness_spread(widget)
        if name == "dark":
            assert background < 90, label  # a dark field, not the light one of before
        else:
            assert background > 170, label
        assert abs(text - background) > 110, f"{label}: text {text} on {background}"
    screenshot(window, f"chat_{name}.png")


@pytest.mark.parametrize("name", ["dark", "light"])
def test_an_empty_check_box_shows_its_box_in_both_themes(qtbot, keeper, name):
    """In the dark theme an unticked box was a shade off the window (Compare's Measure list
    of files to tick looked like plain text)."""
    from PySide6.QtWidgets import QCheckBox

    keeper.apply(name)
    box = QCheckBox()
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    background, border = lightness_spread(box)
    assert abs(border - background) >= 80, (name, background, border)


@pytest.mark.parametrize("name", ["dark", "light"])
def test_a_combo_boxs_drop_down_is_the_field_and_an_arrow_in_both_themes(qtbot, keeper, name):
    """Fusion drew the drop-down part with a bevel of its own: a dark edge inside the light
    theme's white box. Now it is the field's colour with the theme's arrow, nothing darker
    (light) or lighter (dark) than that arrow."""
    from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox

    keeper.apply(name)
    box = QComboBox()
    box.addItems(["Most downloaded", "Most liked"])
    qtbot.addWidget(box)
    box.resize(200, box.sizeHint().height())
    box.show()
    qtbot.waitExposed(box)
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    part = box.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxArrow, box
    )
    inner = part.intersected(box.rect().adjusted(1, 1, -2, -2))  # inside the box's own border
    image = box.grab().toImage()
    colours = theme.COLOURS[name]
    field, arrow = QColor(colours["field"]).lightness(), QColor(colours["hint"]).lightness()
    seen = [
        image.pixelColor(x, y).lightness()
        for x in range(inner.left(), inner.right() + 1)
        for y in range(inner.top(), inner.bottom() + 1)
    ]
    low, high = sorted((field, arrow))
    assert all(low - 6 <= v <= high + 6 for v in seen), (name, low, high, min(seen), max(seen))
    assert any(abs(v - arrow) <= 30 for v in seen)  # the arrow is drawn
    assert seen.count(field) > len(seen) // 2  # the rest is the field


def test_the_theme_is_a_setting_kept_across_starts(window, hearth_home, qapp, qtbot):
    window.set_theme("dark")
    assert theme.shown_theme(qapp) == "dark"
    assert window.theme_actions["dark"].isChecked()
    file = hearth_home.settings_file
    qtbot.waitUntil(lambda: file.exists())  # saved on the pool
    qtbot.waitUntil(lambda: json.loads(file.read_text(encoding="utf-8"))["theme"] == "dark")
    window.theme_actions["light"].trigger()  # View > Theme > Light
    assert theme.shown_theme(qapp) == "light" and window.settings.theme == "light"
    qtbot.waitUntil(lambda: Settings.load(file).theme == "light")


def test_system_follows_the_desktops_scheme(window, qapp, keeper):
    window.set_theme("system")
    keeper.platform_palette = theme.palette("dark")  # a desktop that says it is dark
    qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.shown_theme(qapp) == "dark"
    assert qapp.palette().color(qapp.palette().ColorRole.Base).lightness() < 90
    window.set_theme("light")  # a choice made in Hearth wins over the desktop's
    qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.shown_theme(qapp) == "light"


def test_an_unknown_theme_value_means_system(qapp, keeper):
    keeper.platform_palette = theme.palette("light")
    assert theme.apply_theme(qapp, "purple") == "light"
    assert keeper.choice == "system"


def test_every_colour_of_the_stylesheet_is_named_in_both_themes():
    assert set(theme.LIGHT) == set(theme.DARK)
    dark = theme.stylesheet("dark")
    assert "/*" in theme.stylesheet("light")
    for value in theme.LIGHT.values():
        if value not in theme.DARK.values():
            assert value not in dark


def test_a_chat_in_the_dark_theme_keeps_names_and_code_readable(window, qtbot):
    window.set_theme("dark")
    page = window.chat_page
    chat = page.store.create_chat("Code")
    page.store.add_message(chat.id, "user", "How do I sort a list?")
    page.store.add_message(chat.id, "assistant", "```python\nnames = sorted(names)\n```")
    page.chats.reload()
    page.open_chat(chat.id)
    html = page.transcript.toHtml()
    assert "#334155" not in html  # the user's name was slate on the dark field
    assert "color:#1f2430" in html.replace(" ", "")  # code: dark text on its light block
    screenshot(window, "chat_dark_messages.png")


def test_hardware_cards_follow_the_dark_theme(window, qtbot):
    """The Hardware page's own white cards showed the dark theme's light text on white."""
    from PySide6.QtWidgets import QFrame

    window.set_theme("dark")
    window.open_page("Hardware")
    card = window.hardware_page.findChild(QFrame, "card")
    qtbot.waitUntil(card.isVisible)
    background, text = lightness_spread(card)
    assert background < 90 and abs(text - background) > 110


def test_compares_charts_are_dark_in_the_dark_theme(window):
    """A white chart glared on the dark theme; built in the dark one, they follow it."""
    window.set_theme("dark")
    chart = window.compare_page.chart  # the page is built now, in the dark theme
    for part in (chart.quality, chart.speed):
        assert part.backgroundBrush().color().lightness() < 90
        assert part.titleBrush().color().lightness() > 170
