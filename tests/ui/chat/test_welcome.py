"""An empty chat says what Hearth is for and offers prompts to start with (issue 19)."""

import pytest

from app.core.config.settings import Settings
from app.ui.chat.welcome import EXAMPLE_PROMPTS
from app.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, hearth_home):
    win = MainWindow(hearth_home, Settings())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def test_a_first_start_says_what_hearth_is_for(window):
    page = window.chat_page
    assert page.welcome.isVisible() and not page.transcript.isVisible()
    shown = " ".join(label.text() for label in page.welcome.findChildren(type(page.notice)))
    for words in ("Chat now", "Find a bigger model", "Compare quants"):
        assert words in shown
    assert [b.text() for b in page.welcome.prompt_buttons] == list(EXAMPLE_PROMPTS)


def test_an_example_prompt_fills_the_message_box_without_sending(window, qtbot):
    page = window.chat_page
    page.welcome.prompt_buttons[1].click()
    assert page.input.toPlainText() == EXAMPLE_PROMPTS[1]
    assert page.input.hasFocus() or not window.isActiveWindow()
    assert page.welcome.isVisible()  # nothing was sent


def test_the_welcome_opens_discover_and_compare(window):
    window.chat_page.welcome.page_buttons["Discover"].click()
    assert window.pages.currentWidget() is window.discover_page
    window.open_page("Chat")
    window.chat_page.welcome.page_buttons["Compare"].click()
    assert window.pages.currentWidget() is window.compare_page


def test_a_chat_with_messages_shows_them_instead(window):
    page = window.chat_page
    chat = page.store.create_chat("A chat")
    page.store.add_message(chat.id, "user", "Hello there")
    page.chats.reload()
    page.open_chat(chat.id)
    assert page.transcript.isVisible() and not page.welcome.isVisible()
    assert "Hello there" in page.transcript.toPlainText()
    page.new_chat()
    assert page.welcome.isVisible() and not page.transcript.isVisible()


def test_sending_before_the_first_scan_says_the_model_is_still_loading(window, qtbot):
    # The newcomer's walk (issue 19): a prompt sent in the first seconds was answered "choose
    # one above" while the picker above was still empty and Chat said "Loading...".
    page = window.chat_page
    assert not window.library.scanned
    page.welcome.prompt_buttons[0].click()
    page.send_button.click()
    assert window.banner_text.text() == (
        "The model is still loading: send your message again in a moment."
    )
    assert page.input.toPlainText() == EXAMPLE_PROMPTS[0]  # kept for the second try
    qtbot.waitUntil(lambda: window.library.scanned, timeout=30_000)
    page.send_button.click()  # scanned, and no model here at all
    assert window.banner_text.text() == "No model is loaded yet: choose one above."
