"""The studio window driven as a user drives it, against the real starter model."""

import pytest
from PySide6.QtCore import Qt

from app.core.settings import Settings
from app.ui.main_window import PAGES, MainWindow

LOAD_MS = 60_000
ANSWER_MS = 90_000


@pytest.fixture
def window(qtbot, starter_home):
    settings = Settings(max_tokens=64, temperature=0.0, seed=1, n_ctx=2048)
    win = MainWindow(starter_home, settings)
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


def test_starter_model_is_listed_and_loaded(window):
    assert window.library.rowCount() == 1
    assert window.library.models()[0].source == "starter"
    assert window.chat_page.model_box.currentText().startswith("SmolLM2-135M-Instruct")
    assert "loaded" in window.chat_page.model_status.text()


def test_chat_streams_an_answer(window, qtbot):
    page = window.chat_page
    tokens = []
    page.session.token.connect(tokens.append)
    qtbot.keyClicks(page.input, "What is the capital of France?")
    with qtbot.waitSignal(page.session.finished, timeout=ANSWER_MS) as finished:
        qtbot.keyClick(page.input, Qt.Key_Return)
    stats = finished.args[0]
    answer = "".join(tokens)
    assert len(tokens) == stats.tokens > 1  # streamed, token by token
    assert "Paris" in answer
    transcript = page.transcript.toPlainText()
    assert "What is the capital of France?" in transcript
    assert answer in transcript
    assert "tok/s" in page.stats_label.text()
    assert page.send_button.isEnabled() and not page.stop_button.isEnabled()
    assert page.input.toPlainText() == ""


def test_stop_keeps_what_was_written(window, qtbot):
    page = window.chat_page
    window.settings.max_tokens = 400
    tokens = []
    page.session.token.connect(tokens.append)
    page.input.setPlainText("Write a long story about a lighthouse keeper.")
    with qtbot.waitSignal(page.session.token, timeout=ANSWER_MS):
        qtbot.mouseClick(page.send_button, Qt.LeftButton)
    assert page.stop_button.isEnabled()
    with qtbot.waitSignal(page.session.finished, timeout=ANSWER_MS) as finished:
        qtbot.mouseClick(page.stop_button, Qt.LeftButton)
    assert finished.args[0].stop_reason == "user"
    assert finished.args[0].tokens < 100
    assert "".join(tokens) in page.transcript.toPlainText()
    assert "stopped" in page.stats_label.text()
    assert page.messages[-1] == {"role": "assistant", "content": "".join(tokens)}


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
    assert "damaged or incomplete" in window.banner_text.text()
    starter = next(m for m in window.library.models() if m.source == "starter")
    with qtbot.waitSignal(window.session.loaded, timeout=LOAD_MS):
        window.open_chat_with(str(starter.path))
    assert window.session.model.path == starter.path
