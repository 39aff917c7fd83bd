"""Chat's conversation follows View > Theme while a chat is open: the colours written into its
HTML ("You", "Assistant", the answer's figures) are drawn again in the new theme's. In dark,
"You" drawn before the switch kept the light theme's slate on the dark field, hard to read.
The real starter model writes the answer; the stylesheets are the themes' own."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage, QPalette, QTextCursor

from app.ui import theme
from app.ui.chat.transcript import ShownMessage, Transcript
from tests.support.chat_ui import ask
from tests.support.screenshots import screenshot
from tests.ui.chat.test_page import open_window


def fragments(transcript: Transcript) -> list[tuple[str, str, bool, int]]:
    """Each run of text in the document: its text, colour, whether a link, its position."""
    found = []
    block = transcript.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            part = it.fragment()
            fmt = part.charFormat()
            colour = fmt.foreground().color().name() if fmt.foreground().style() else ""
            found.append((part.text(), colour, fmt.isAnchor(), part.position()))
            it += 1
        block = block.next()
    return found


def colour_of(transcript: Transcript, text: str) -> str:
    return next(c for t, c, _link, _pos in fragments(transcript) if t == text)


def luminance(colour: QColor) -> float:
    """WCAG's relative luminance."""

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in (colour.redF(), colour.greenF(), colour.blueF()))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_of_you(transcript: Transcript) -> float:
    """The strongest contrast between the pixels of the "You" label, as painted, and the
    field behind it (WCAG's ratio: 4.5 reads as body text, 1.5 is dark grey on black)."""
    position = next(p for t, _c, _link, p in fragments(transcript) if t == "You")
    cursor = QTextCursor(transcript.document())
    cursor.setPosition(position)
    start = transcript.cursorRect(cursor)
    cursor.setPosition(position + 3)
    end = transcript.cursorRect(cursor)
    image: QImage = transcript.viewport().grab().toImage()
    field = transcript.viewport().palette().color(QPalette.ColorRole.Base)
    assert image.pixelColor(2, 2) == field  # the grab shows the field in the theme's colour
    background = luminance(field)
    best = 1.0
    for x in range(start.left(), end.right()):
        for y in range(start.top(), start.bottom()):
            shade = luminance(image.pixelColor(x, y))
            low, high = sorted((shade, background))
            best = max(best, (high + 0.05) / (low + 0.05))
    return best


def assert_drawn_in(transcript: Transcript, name: str, qapp) -> None:
    colours = theme.COLOURS[name]
    assert colour_of(transcript, "You") == colours["user_name"], name
    assert colour_of(transcript, "Assistant") == colours["assistant_name"], name
    figures = [c for t, c, _link, _pos in fragments(transcript) if "tok/s" in t]
    assert figures == [colours["hint"]], name
    links = {(t, c) for t, c, link, _pos in fragments(transcript) if link}
    assert {"Copy", "Edit"} <= {t for t, _c in links}, links
    link = qapp.palette().color(QPalette.ColorRole.Link).name()
    assert {c for _t, c in links} == {link}, (name, links)  # the theme's link colour


def test_a_chat_open_through_theme_switches_is_drawn_in_each_theme(
    qtbot, qapp, starter_home, keeper
):
    keeper.apply("light")
    win = open_window(qtbot, starter_home)
    try:
        win.resize(1024, 640)
        page = win.chat_page
        answer, _stats = ask(qtbot, page, "Name the capital city of France.")
        transcript = page.transcript
        assert_drawn_in(transcript, "light", qapp)
        light_contrast = contrast_of_you(transcript)
        assert light_contrast >= 4.5

        win.set_theme("dark")  # View > Theme > Dark, with the chat open
        qtbot.waitUntil(lambda: colour_of(transcript, "You") == theme.DARK["user_name"])
        assert_drawn_in(transcript, "dark", qapp)
        assert transcript.toPlainText().count(answer.strip()) == 1  # drawn once, all of it
        qtbot.wait(10)  # painted
        assert contrast_of_you(transcript) >= 4.5  # slate on the dark field was ~1.6
        screenshot(win, "chat_after_switch_dark.png")

        win.set_theme("light")
        qtbot.waitUntil(lambda: colour_of(transcript, "You") == theme.LIGHT["user_name"])
        assert_drawn_in(transcript, "light", qapp)
        qtbot.wait(10)
        assert contrast_of_you(transcript) >= 4.5
        screenshot(win, "chat_after_switch_light.png")

        win.open_page("My Models")  # switched while another page is in front
        win.set_theme("dark")
        win.open_page("Chat")
        qtbot.waitUntil(lambda: colour_of(transcript, "You") == theme.DARK["user_name"])
        assert_drawn_in(transcript, "dark", qapp)
    finally:
        win.shutdown()


def test_an_answer_being_written_is_drawn_again_whole(qtbot, keeper):
    """A switch while the answer streams: its words so far shown once, in the new colours,
    and the words after the switch go on from them."""
    keeper.apply("light")
    transcript = Transcript()
    qtbot.addWidget(transcript)
    transcript.show()
    transcript.show_messages([ShownMessage(1, "user", "Count to five.")])
    transcript.begin_answer(2)
    transcript.append_to_answer("One, two,\n\nthree")
    transcript._render_tail()  # the frame's catch-up, now
    keeper.apply("dark")
    qtbot.waitUntil(lambda: colour_of(transcript, "You") == theme.DARK["user_name"])
    transcript.append_to_answer(", four.")
    transcript.finish_answer(ShownMessage(2, "assistant", "One, two,\n\nthree, four.", "9 tok/s"))
    shown = transcript.toPlainText()
    assert shown.count("One, two,") == 1 and shown.count("three, four.") == 1, shown
    assert colour_of(transcript, "Assistant") == theme.DARK["assistant_name"]
    keeper.apply("light")
    qtbot.waitUntil(lambda: colour_of(transcript, "You") == theme.LIGHT["user_name"])
    shown = transcript.toPlainText()
    assert shown.count("One, two,") == 1 and shown.count("three, four.") == 1, shown
    assert colour_of(transcript, "9 tok/s") == theme.LIGHT["hint"]
