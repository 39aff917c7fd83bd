"""Chat's figures line (an answer's speed, first token, tokens and why it ended; the context
meter beside them) reads whole in a 1024x640 and a 1366x768 window, light and dark: a 230-px
minimum for the meter cut a max-tokens answer's figures at 1024 px, whole only in the tooltip.
The real starter model; the stylesheets are the themes' own (``theme.stylesheet``)."""

import pytest

from tests.support.chat_ui import ask
from tests.support.screenshots import screenshot
from tests.ui.chat.test_page import open_window

# Wider than this machine's: a fast computer's 3-digit speed, 3-digit tokens
WIDE = {"tok_s": 123.4, "ttft_s": 1.23, "tokens": 512, "stop_reason": "length"}


def assert_whole(page, where: str) -> None:
    figures, meter = page.stats_label, page.context_meter
    assert figures.isVisible() and meter.isVisible(), where
    assert figures.elided() == figures.text(), (where, figures.text(), meter.text())
    assert meter.width() >= meter.fontMetrics().horizontalAdvance(meter.text()), where


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_answers_figures_read_whole_at_1024_and_1366_px(qtbot, starter_home, keeper, theme):
    keeper.apply(theme)  # the theme's stylesheet and palette, as the studio applies them
    win = open_window(qtbot, starter_home, max_tokens=24)
    try:
        win.resize(1024, 640)
        page = win.chat_page
        ask(qtbot, page, "Tell me a long story about a lighthouse keeper.")
        figures = page.stats_label.text()
        assert figures.endswith("24 tokens · max tokens reached"), figures  # the longest end
        assert page.context_meter.text().endswith(" / 8,192 tokens")  # used of the context
        qtbot.wait(10)  # laid out
        assert win.size().toTuple() == (1024, 640)
        assert page.sidebar.isVisible()  # the chat list beside it, as the window opens
        assert_whole(page, f"1024 {theme}")
        screenshot(win, f"chat_answer_1024_{theme}.png")
        page.figures.show_figures(WIDE)
        qtbot.wait(10)
        assert_whole(page, f"1024 {theme}, wide figures")
        win.resize(1366, 768)
        qtbot.wait(10)
        assert win.size().toTuple() == (1366, 768)
        assert_whole(page, f"1366 {theme}, wide figures")
        screenshot(win, f"chat_answer_1366_{theme}.png")
    finally:
        win.shutdown()
