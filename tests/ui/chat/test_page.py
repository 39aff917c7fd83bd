"""Chat driven as a user drives it: the real starter model, the real SQLite chat store."""

import json
import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.core.chats.store import ChatStore
from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.ui.chat.chat_export import export_chat
from app.ui.main_window import MainWindow
from tests.support.chat_ui import ANSWER_MS, ask, stop_mid_answer

LOAD_MS = 60_000


def open_window(qtbot, paths, **sampling):
    chosen = Sampling(**{"max_tokens": 48, "temperature": 0.0, "seed": 1, **sampling})
    win = MainWindow(paths, Settings(sampling=chosen))
    qtbot.addWidget(win)
    win.chat_page.confirm = lambda _parent, _question: True
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        win.show()
    return win


@pytest.fixture
def window(qtbot, starter_home):
    win = open_window(qtbot, starter_home)
    yield win
    win.shutdown()


def test_send_streams_and_saves_the_answer(window, qtbot):
    page = window.chat_page
    answer, stats = ask(qtbot, page, "Name the capital city of France.")
    assert "Paris" in answer and stats.tokens > 1
    shown = page.transcript.toPlainText()
    assert "Name the capital city of France." in shown
    assert "Paris" in shown
    assert "tok/s" in page.stats_label.text() and "first token" in page.stats_label.text()
    meter = page.context_meter
    assert meter.text() == f"{stats.context_used:,} / 8,192 tokens"
    assert (
        meter.toolTip()
        == f"This chat uses {stats.context_used:,} of the model's 8,192 tokens of context."
    )
    saved = page.store.messages(page.chat_id)
    assert [m.role for m in saved] == ["user", "assistant"]
    assert saved[1].content == answer and saved[1].complete
    assert json.loads(saved[1].stats_json)["tokens"] == stats.tokens
    assert page.chats.data(page.chats.index(0)) == "Name the capital city of France."


def test_each_chat_shows_its_own_last_answers_figures(window, qtbot):
    """A new chat kept the last chat's "tok/s" line and context use under its welcome."""
    page = window.chat_page
    ask(qtbot, page, "Name the capital city of France.")
    first, figures, used = page.chat_id, page.stats_label.text(), page.context_meter.text()
    assert "tok/s" in figures and used.endswith(" / 8,192 tokens")
    page.new_chat()
    assert page.stats_label.text() == ""
    assert page.context_meter.text() == "context: 8,192 tokens"
    page.open_chat(first)
    qtbot.waitUntil(lambda: page.stats_label.text() == figures)
    assert page.context_meter.text() == used


def test_markdown_and_code_blocks_render_and_copy(window, qtbot):
    page = window.chat_page
    chat = page.new_chat()
    message = page.store.add_message(
        chat, "assistant", "Here:\n\n```python\nprint('hi')\n```\n\n**done**"
    )
    page.open_chat(chat)
    html = page.transcript.toHtml()
    assert "Copy code" in html and "print" in html
    assert "**done**" not in page.transcript.toPlainText()  # rendered, not raw
    page._on_action("copy-code", message.id, 0)
    assert QGuiApplication.clipboard().text() == "print('hi')\n"
    page._on_action("copy", message.id, 0)
    assert QGuiApplication.clipboard().text().startswith("Here:")


def test_stop_ends_at_once_and_keeps_the_text(window, qtbot):
    page = window.chat_page
    tokens, stats = stop_mid_answer(qtbot, page)
    assert stats.stop_reason == "user"
    assert 0 < stats.tokens < 60  # the worker hands tokens over in ~30 ms chunks
    saved = page.store.messages(page.chat_id)[-1]
    assert saved.content == "".join(tokens)
    assert "stopped" in page.stats_label.text()
    assert page.send_button.isEnabled()


def test_regenerate_replaces_the_last_answer(window, qtbot):
    page = window.chat_page
    page.panel.temperature.setValue(1.2)
    page.panel.seed.setValue(-1)  # random: a new draw each time
    ask(qtbot, page, "Write one sentence about a colour.")
    first = page.store.messages(page.chat_id)[-1]
    assert _plain(first.content) in _plain(page.transcript.toPlainText())
    with qtbot.waitSignal(page.answer_finished, timeout=ANSWER_MS):
        page._on_action("regenerate", first.id, 0)
    saved = page.store.messages(page.chat_id)
    assert [m.role for m in saved] == ["user", "assistant"]  # replaced, not added
    assert saved[-1].content and saved[-1].content != first.content
    shown = _plain(page.transcript.toPlainText())
    assert _plain(first.content) not in shown and _plain(saved[-1].content) in shown


def _plain(text: str) -> str:
    """Words as the transcript shows them: a random answer may hold Markdown (``**bold**``,
    a list), which the transcript renders; the words stay."""
    return " ".join(re.sub(r"[*_`#>|-]|^\s*\d+\.", " ", text, flags=re.M).split())


def test_edit_an_earlier_message_continues_from_there(window, qtbot):
    page = window.chat_page
    ask(qtbot, page, "What is the capital of Italy?")
    ask(qtbot, page, "And of Spain?")
    first_user = page.store.messages(page.chat_id)[0]
    page._on_action("edit", first_user.id, 0)
    assert page.input.toPlainText() == "What is the capital of Italy?"
    assert page.notice.isVisible() and "Editing" in page.notice.text()
    page.input.setPlainText("Name the capital city of France.")
    with qtbot.waitSignal(page.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClick(page.input, Qt.Key_Return)
    saved = page.store.messages(page.chat_id)
    assert [m.role for m in saved] == ["user", "assistant"]
    assert saved[0].content == "Name the capital city of France."
    assert "Paris" in saved[1].content
    assert "Spain" not in page.transcript.toPlainText()
    # The title made from the first message follows its edit, in the list too.
    assert page.store.get_chat(page.chat_id).title == "Name the capital city of France."
    assert page.chats.data(page.chats.index(0)) == "Name the capital city of France."


def test_a_renamed_chat_keeps_its_name_when_its_first_message_is_edited(window, qtbot):
    page = window.chat_page
    ask(qtbot, page, "What is the capital of Italy?")
    page.store.rename_chat(page.chat_id, "Capitals")
    page._on_action("edit", page.store.messages(page.chat_id)[0].id, 0)
    page.input.setPlainText("Name the capital city of France.")
    with qtbot.waitSignal(page.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClick(page.input, Qt.Key_Return)
    assert page.store.get_chat(page.chat_id).title == "Capitals"


def test_the_status_says_answering_once_the_words_come(window, qtbot):
    page = window.chat_page
    page.input.setPlainText("Name the capital city of France.")
    seen = []
    page.answer_token.connect(lambda _text: seen.append(page.stats_label.text()))
    with qtbot.waitSignal(page.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClick(page.input, Qt.Key_Return)
        assert page.stats_label.text() == "Thinking..."  # sent, nothing written yet
    # Each token is announced once on disk, a moment after it is shown: the last ones may come
    # after the stats line replaced the status, never while it still said Thinking...
    assert seen and seen[0] == "Answering..." and "Thinking..." not in seen
    assert "tok/s" in page.stats_label.text()


def test_chats_reopen_after_restart_exactly_as_left(qtbot, starter_home):
    first = open_window(qtbot, starter_home)
    answer, _ = ask(qtbot, first.chat_page, "Name the capital city of France.")
    chat_id = first.chat_page.chat_id
    first.chat_page.panel.system_prompt.setPlainText("Answer like a pirate.")
    shown = first.chat_page.transcript.toPlainText()
    first.close()  # as the user quits; the settings file remembers the open chat
    second = MainWindow(starter_home, Settings.load(starter_home.settings_file))
    qtbot.addWidget(second)
    page = second.chat_page
    assert page.chat_id == chat_id
    assert page.transcript.toPlainText() == shown
    assert page.store.get_chat(chat_id).system_prompt == "Answer like a pirate."
    assert page.panel.system_prompt_text() == "Answer like a pirate."
    assert answer in page.transcript.toPlainText()
    second.shutdown()


def test_new_search_rename_delete(window, qtbot):
    page = window.chat_page
    ask(qtbot, page, "Tell me about volcanoes.")
    volcano_chat = page.chat_id
    page.new_chat()
    ask(qtbot, page, "Name the capital city of France.")
    assert page.chats.rowCount() == 2
    page.sidebar.search.setText("volcano")
    assert page.chats.rowCount() == 1
    assert page.chats.index(0).data() == "Tell me about volcanoes."
    page.sidebar.search.setText("")
    row = page.chats.row_of(volcano_chat)
    assert page.chats.setData(page.chats.index(row), "Geology")
    assert page.store.get_chat(volcano_chat).title == "Geology"
    page.delete_chat(volcano_chat)
    assert page.chats.rowCount() == 1
    assert page.store.list_chats()[0].title == "Name the capital city of France."


def test_export_markdown_and_json(window, qtbot, tmp_path):
    page = window.chat_page
    answer, _ = ask(qtbot, page, "Name the capital city of France.")
    # The file is written on the pool: it appears when the task is done, not at once.
    md_path, json_path = tmp_path / "chat.md", tmp_path / "chat.json"
    export_chat(page, page.store, page.chat_id, md_path)
    export_chat(page, page.store, page.chat_id, json_path)
    qtbot.waitUntil(lambda: md_path.exists() and json_path.exists())
    md = md_path.read_text()
    assert "Name the capital city of France." in md and answer.strip() in md
    data = json.loads(json_path.read_text())
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["messages"][1]["content"] == answer


def test_export_of_a_chat_not_opened_reads_it_off_the_gui_thread(window, qtbot, tmp_path):
    page = window.chat_page
    answer, _ = ask(qtbot, page, "Name the capital city of France.")
    asked = page.chat_id
    page.store.flush()
    page.store._messages.pop(asked)  # as after a restart: on disk, not in memory
    assert not page.store.loaded(asked)
    path = tmp_path / "not opened.md"
    export_chat(page, page.store, asked, path)
    qtbot.waitUntil(path.exists)
    assert answer.strip() in path.read_text()


def test_export_to_a_bad_name_says_so_in_the_banner(window, qtbot, tmp_path):
    page = window.chat_page
    ask(qtbot, page, "Name the capital city of France.")
    task = export_chat(page, page.store, page.chat_id, tmp_path / "chat.txt")
    qtbot.waitUntil(lambda: task.ended)
    assert not (tmp_path / "chat.txt").exists()
    assert window.banner.isVisible() and ".md" in window.banner_text.text()


def test_context_full_offers_to_drop_the_oldest_turns(qtbot, starter_home):
    win = open_window(qtbot, starter_home)
    page = win.chat_page
    page.panel.n_ctx.setValue(256)
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        page.models.reload_model()
    chat = page.new_chat()
    for i in range(10):
        page.store.add_message(chat, "user", f"Tell me fact {i} about the moon, in detail.")
        page.store.add_message(
            chat,
            "assistant",
            "The moon is Earth's only natural satellite, "
            "about 384,000 km away, and it shapes the tides.",
        )
    page.open_chat(chat)
    page.input.setPlainText("And the sun?")
    with qtbot.waitSignal(page.answer_context_full, timeout=ANSWER_MS):
        qtbot.keyClick(page.input, Qt.Key_Return)
    assert page.notice.isVisible() and "context holds 256" in page.notice.text()
    assert page.store.messages(chat)[-1].content == "And the sun?"  # nothing lost
    with qtbot.waitSignal(page.answer_finished, timeout=ANSWER_MS) as done:
        qtbot.mouseClick(page.notice_yes, Qt.LeftButton)
    assert done.args[0].context_used <= 256
    assert page.store.messages(chat)[-1].role == "assistant"
    assert len(page.store.messages(chat)) == 22  # older turns are kept in the chat
    win.shutdown()


def test_loading_shows_progress_and_can_be_cancelled(window, qtbot):
    page = window.chat_page
    values = []
    window.session.load_progress.connect(values.append)

    def press_cancel(_value):  # what the Cancel button does, while llama.cpp reads weights
        window.session.cancel_load()  # thread-safe: sets an Event

    # Directly in the worker thread: the small model would finish loading before a queued
    # signal reached the window.
    worker = window.session._worker
    worker.load_progress.connect(press_cancel, Qt.DirectConnection)
    with qtbot.waitSignal(window.session.load_failed, timeout=LOAD_MS) as failed:
        page.models.reload_model()
    assert page.cancel_load_button.isHidden() and page.load_bar.isHidden()
    assert failed.args == ["Loading SmolLM2-135M-Instruct.Q4_1.gguf was cancelled.", True]
    assert values
    assert "cancelled" in page.model_status.text()
    assert not window.banner.isVisible()
    worker.load_progress.disconnect(press_cancel)
    with qtbot.waitSignal(window.session.loaded, timeout=LOAD_MS):
        page.models.reload_model()


def test_answer_survives_closing_mid_stream(qtbot, starter_home):
    win = open_window(qtbot, starter_home, max_tokens=400)
    page = win.chat_page
    page.input.setPlainText("Write a long story about a dragon.")
    got = []
    page.answer_token.connect(got.append)
    with qtbot.waitSignal(page.answer_token, timeout=ANSWER_MS):
        qtbot.keyClick(page.input, Qt.Key_Return)
    qtbot.waitUntil(lambda: len(got) >= 5, timeout=ANSWER_MS)
    chat_id = page.chat_id
    win.close()
    store = ChatStore(starter_home.chats_db)
    saved = store.messages(chat_id)[-1]
    store.close()
    assert saved.role == "assistant" and saved.complete
    assert saved.content.startswith("".join(got[:5]))


def test_presets_and_per_model_defaults(window, qtbot, starter_home):
    page = window.chat_page
    panel = page.panel
    panel.preset.setCurrentText("Creative")
    panel._apply_preset(panel.preset.currentIndex())
    assert panel.temperature.value() == 1.0 and panel.top_k.value() == 100
    panel.temperature.setValue(0.33)
    assert panel.preset.currentText() == "Custom"
    panel.preset.setCurrentText("Precise")
    panel._apply_preset(panel.preset.currentIndex())
    assert (panel.temperature.value(), panel.preset.currentText()) == (0.2, "Precise")
    panel.n_ctx.setValue(1024)
    panel.kv_type.setCurrentText("q8_0")
    assert "needs flash attention" in panel.kv_note.text()
    with qtbot.waitSignal(window.session.loaded, timeout=LOAD_MS) as loaded:
        page.models.reload_model()
    assert loaded.args[0].n_ctx == 1024
    page.models.save_model_defaults()
    assert page.model_status.text() == "Saved as this model's defaults."
    path = str(loaded.args[0].path)
    qtbot.waitUntil(  # saved on the pool, before any quit
        lambda: path in Settings.load(starter_home.settings_file).model_settings
    )
    saved = Settings.load(starter_home.settings_file)
    mine = saved.model_settings[str(loaded.args[0].path)]
    assert (mine["sampling"]["temperature"], mine["n_ctx"], mine["kv_type"]) == (0.2, 1024, "q8_0")
    window.shutdown()
    again = MainWindow(starter_home, saved)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.session.loaded, timeout=LOAD_MS) as reloaded:
        again.show()
    assert reloaded.args[0].n_ctx == 1024
    assert again.chat_page.panel.temperature.value() == 0.2
    again.shutdown()


def test_a_system_prompt_too_long_to_use_is_said_and_not_saved(window):
    page = window.chat_page
    chat = page.new_chat()
    page.panel.system_prompt.setPlainText("Answer briefly.")
    assert page.store.get_chat(chat).system_prompt == "Answer briefly."
    page.panel.system_prompt.setPlainText("x" * 2_000_000)  # a pasted book
    assert window.banner.isVisible() and "not saved" in window.banner_text.text()
    assert page.store.get_chat(chat).system_prompt == "Answer briefly."  # the last good one


def test_chat_says_loading_until_the_library_is_scanned(qtbot, starter_home):
    """Not "No local model yet" while the starter model is there but not yet listed."""
    win = MainWindow(starter_home, Settings(sampling=Sampling(max_tokens=48)))
    qtbot.addWidget(win)
    status = win.chat_page.model_status
    seen = []
    win.library.modelAboutToBeReset.connect(lambda: seen.append(status.text()))
    assert status.text() == "Loading..."
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        win.show()
    assert seen[0] == "Loading..."  # what it said until the scan ended
    assert "loaded" in status.text() and "No local model" not in status.text()
    win.shutdown()


def test_chat_without_any_model_says_so_once_scanned(qtbot, hearth_home):
    win = MainWindow(hearth_home, Settings())
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.library.modelReset, timeout=10_000):
        win.show()
    assert win.chat_page.model_status.text().startswith("No local model yet: run 'hearth setup'")
    win.shutdown()
