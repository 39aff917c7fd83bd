"""Chat with a remote model, driven as a user drives it: llama-cpp-python's own
OpenAI-compatible server (a real third-party server) runs the starter model on 127.0.0.1 with
an API key; the window also has the starter model locally."""

import json

import pytest
from PySide6.QtCore import Qt

from app.core.common.logs import setup_logging
from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.core.inference.remote import Connection, ConnectionStore
from app.ui.application import apply_style
from app.ui.chat.model_choice_model import KindRole
from app.ui.main_window import MainWindow
from tests.support.chat_ui import ANSWER_MS, ask, stop_mid_answer
from tests.support.llama_server import REMOTE_KEY as KEY
from tests.support.llama_server import free_port, llama_server
from tests.support.screenshots import screenshot

LOAD_MS = 60_000


@pytest.fixture
def window(qtbot, starter_home, server):
    setup_logging(starter_home.log_file)
    ConnectionStore().save(Connection("Workstation", server, KEY))
    ConnectionStore().save(Connection("Old laptop", f"http://127.0.0.1:{free_port()}/v1"))
    win = MainWindow(
        starter_home, Settings(sampling=Sampling(max_tokens=48, temperature=0.0, seed=1))
    )
    qtbot.addWidget(win)
    win.chat_page.confirm = lambda _parent, _question: True
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        win.show()
    qtbot.waitUntil(lambda: win.chat_page.model_box.listing == 0, timeout=30_000)
    yield win
    win.shutdown()


def remote_key(starter_gguf) -> str:
    return f"remote:Workstation:{starter_gguf}"


def choose_remote(qtbot, page, key):
    row = page.model_box.choices.row_of(key)
    assert row >= 0
    with qtbot.waitSignal(page.session.remote_ready, timeout=30_000):
        page.model_box.activated.emit(row)  # as when the user picks the row


def test_picker_lists_local_and_remote_models(window, starter_gguf):
    box = window.chat_page.model_box
    shown = [(box.itemText(r), box.itemData(r, KindRole)) for r in range(box.count())]
    assert shown[0] == ("SmolLM2-135M-Instruct · Q4_1", "local")
    assert ("Workstation", "heading") in shown
    assert (f"Workstation · {starter_gguf.name}", "remote") in shown
    assert ("Old laptop: not available", "heading") in shown
    assert shown[-1] == ("Manage connections...", "manage")
    assert box.currentText() == "SmolLM2-135M-Instruct · Q4_1"


def test_chat_with_a_remote_model(window, qtbot, starter_gguf, qapp, keeper):
    page = window.chat_page
    assert page.panel.loading_box.isVisibleTo(page.panel)
    choose_remote(qtbot, page, remote_key(starter_gguf))
    assert window.session.model is None  # the local model was unloaded
    assert page.model_box.currentText() == f"Workstation · {starter_gguf.name}"
    assert "on http://127.0.0.1:" in page.model_status.text()
    assert not page.panel.loading_box.isVisibleTo(page.panel)  # the server sets those
    assert not page.panel.reload_button.isVisibleTo(page.panel)
    assert page.panel.remote_note.isVisibleTo(page.panel)

    answer, stats = ask(qtbot, page, "Name the capital city of France.")
    assert "Paris" in answer and stats.tokens > 1
    assert "Paris" in page.transcript.toPlainText()
    line = page.stats_label.text()
    assert "tok/s" in line and "first token" in line and f"{stats.tokens} tokens" in line
    assert "finished" in line or "max tokens" in line
    saved = page.store.messages(page.chat_id)
    assert [m.role for m in saved] == ["user", "assistant"] and saved[1].content == answer
    assert json.loads(saved[1].stats_json)["tokens"] == stats.tokens
    assert page.store.get_chat(page.chat_id).model == remote_key(starter_gguf)

    tokens, stats = stop_mid_answer(qtbot, page)
    assert stats.stop_reason == "user" and len(tokens) < 60
    kept = page.store.messages(page.chat_id)[-1]
    assert kept.content == "".join(tokens) and kept.content in page.transcript.toPlainText()
    assert "stopped" in page.stats_label.text() and page.send_button.isEnabled()

    apply_style(qapp)
    page.panel.max_tokens.setValue(48)
    window.chat_page.settings_button.setChecked(True)
    with qtbot.waitSignal(page.answer_finished, timeout=ANSWER_MS):
        page._on_action("regenerate", kept.id, 0)
    saved = page.store.messages(page.chat_id)
    assert [m.role for m in saved] == ["user", "assistant"] * 2  # replaced, not added
    assert saved[-1].content != kept.content and saved[-1].complete
    assert saved[-1].content in page.transcript.toPlainText()
    assert "stopped" not in page.stats_label.text()
    screenshot(window, "chat_remote.png")
    keeper.remove()  # the platform's look back, the style flags Qt 6.11 leaves cleared
    assert KEY not in window.paths.log_file.read_text()


def test_unreachable_server_gives_a_message_and_nothing_is_lost(
    window, qtbot, starter_gguf, tmp_path
):
    page = window.chat_page
    with llama_server(starter_gguf, tmp_path / "short-lived.log") as url:
        ConnectionStore().save(Connection("Short-lived", url))
        page.model_box.refresh_remote()
        qtbot.waitUntil(lambda: page.model_box.listing == 0, timeout=30_000)
        choose_remote(qtbot, page, f"remote:Short-lived:{starter_gguf}")
    # The server has stopped: the next question gets a message in the window.
    page.input.setPlainText("Are you still there?")
    with qtbot.waitSignal(page.answer_failed, timeout=ANSWER_MS):
        qtbot.keyClick(page.input, Qt.Key_Return)
    assert window.banner.isVisible()
    assert "Could not reach Short-lived" in window.banner_text.text()
    saved = page.store.messages(page.chat_id)
    assert saved[0].content == "Are you still there?"  # the question is kept
    assert "Are you still there?" in page.transcript.toPlainText()
    assert page.send_button.isEnabled()

    # Choosing it again says so too, and keeps the chat on what it had.
    row = page.model_box.choices.row_of(f"remote:Short-lived:{starter_gguf}")
    with qtbot.waitSignal(page.session.remote_failed, timeout=30_000):
        page.model_box.activated.emit(row)
    assert window.session.remote.label.startswith("Short-lived")

    # Back to the local model: its load settings come back.
    with qtbot.waitSignal(page.session.loaded, timeout=LOAD_MS):
        page.model_box.activated.emit(0)
    assert window.session.remote is None and window.session.model is not None
    assert page.panel.loading_box.isVisibleTo(page.panel)
    answer, _stats = ask(qtbot, page, "Name the capital city of France.")
    assert "Paris" in answer


def test_manage_connections_from_the_picker(window, qtbot, starter_gguf):
    page = window.chat_page
    box = page.model_box
    box.activated.emit(box.count() - 1)  # "Manage connections..."
    dialog = page.models.connections_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2)  # read on the pool
    assert box.currentText() == "SmolLM2-135M-Instruct · Q4_1"  # the picker shows what is in use
    dialog.list.setCurrentIndex(dialog.model.index(dialog.model.row_of("Old laptop")))
    dialog.confirm = lambda _p, _q: True
    qtbot.mouseClick(dialog.remove_button, Qt.LeftButton)
    qtbot.waitUntil(
        lambda: box.listing == 0 and box.findText("Old laptop: not available") < 0, timeout=30_000
    )
    assert box.findText(f"Workstation · {starter_gguf.name}") >= 0
    dialog.reject()


def test_a_restart_reopens_the_remote_model_last_used(window, qtbot, starter_gguf, starter_home):
    page = window.chat_page
    choose_remote(qtbot, page, remote_key(starter_gguf))
    window.shutdown()
    saved = Settings.load(starter_home.settings_file)
    assert saved.last_model == remote_key(starter_gguf)

    again = MainWindow(starter_home, saved)
    qtbot.addWidget(again)
    loaded = []
    again.session.loaded.connect(loaded.append)
    with qtbot.waitSignal(again.session.remote_ready, timeout=30_000):
        again.show()
    box = again.chat_page.model_box
    assert box.currentText() == f"Workstation · {starter_gguf.name}"
    assert loaded == [] and again.session.model is None  # no local model was loaded first
    answer, _stats = ask(qtbot, again.chat_page, "Name the capital city of France.")
    assert "Paris" in answer
    again.shutdown()


def test_a_restart_falls_back_to_the_local_model_when_the_server_is_gone(
    qtbot, starter_home, starter_gguf, tmp_path
):
    with llama_server(starter_gguf, tmp_path / "gone.log") as url:
        ConnectionStore().save(Connection("Gone", url))
    settings = Settings(
        sampling=Sampling(max_tokens=48, temperature=0.0, seed=1),
        last_model=f"remote:Gone:{starter_gguf}",
    )
    win = MainWindow(starter_home, settings)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        win.show()
    page = win.chat_page
    assert page.model_box.currentText() == "SmolLM2-135M-Instruct · Q4_1"
    assert (
        "Gone is not available now, so the chat uses this local model" in page.model_status.text()
    )
    assert not win.banner.isVisible()  # said in the status line, not as an error
    answer, _stats = ask(qtbot, page, "Name the capital city of France.")
    assert "Paris" in answer
    win.shutdown()


def test_a_remote_chat_too_long_for_the_servers_context_offers_the_same_choice(
    window, qtbot, starter_gguf
):
    """The server (context 2,048 tokens) refuses the chat; the page offers to drop the oldest
    turns, as for a local model, and the answer comes; the chat keeps every turn."""
    page = window.chat_page
    choose_remote(qtbot, page, remote_key(starter_gguf))
    chat = page.new_chat()
    for i in range(3):
        page.store.add_message(chat, "user", f"Tell me story {i}. " + "dragon " * 400)
        page.store.add_message(chat, "assistant", f"Story {i}: " + "dragon " * 400)
    page.open_chat(chat)
    page.input.setPlainText("Name the capital city of France.")
    with qtbot.waitSignal(page.answer_context_full, timeout=ANSWER_MS):
        qtbot.keyClick(page.input, Qt.Key_Return)
    assert page.notice.isVisible() and "context holds 2,048" in page.notice.text()
    assert not window.banner.isVisible()  # a choice, not an error
    assert page.store.messages(chat)[-1].content == "Name the capital city of France."
    with qtbot.waitSignal(page.answer_finished, timeout=ANSWER_MS) as done:
        qtbot.mouseClick(page.notice_yes, Qt.LeftButton)
    saved = page.store.messages(chat)
    assert saved[-1].role == "assistant" and saved[-1].content.strip() and done.args[0].tokens
    assert len(saved) == 8  # the older turns stay in the chat
