"""The studio's window while models fail, and requests that are each their own.

The real window on the real starter model: a file that makes llama.cpp abort, a model host killed
mid-answer, the chat page's Stop while the API server answers a client, deleting the open chat
mid-answer. The window stays, the message names the model, the chat keeps what was written, and
another model answers at once.
"""

from __future__ import annotations

import os
import signal
import socket
import threading

import openai
import pytest
from PySide6.QtCore import Qt

from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.ui.main_window import MainWindow
from tests.support import crash_models
from tests.support.chat_ui import ANSWER_MS, ask

pytestmark = [pytest.mark.faults, pytest.mark.slow]

LOAD_MS = 60_000
STORY = "Write a long story about a lighthouse keeper."


@pytest.fixture
def window(qtbot, starter_home):
    win = MainWindow(
        starter_home, Settings(sampling=Sampling(max_tokens=48, temperature=0.0, seed=1))
    )
    qtbot.addWidget(win)
    win.chat_page.confirm = lambda _parent, _question: True
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        win.show()
    yield win
    win.shutdown()


def load(qtbot, page, path) -> None:
    with qtbot.waitSignal(page.session.loaded, timeout=LOAD_MS):
        page.models.select_model(str(path))


def test_a_file_that_aborts_llama_cpp_leaves_the_studio_up(
    window, qtbot, faults, starter_home, starter_gguf
):
    page = window.chat_page
    starter = page.session.model.path
    forged = crash_models.duplicate_token(starter_gguf, starter_home.models_dir)
    window.refresh_library()
    qtbot.waitUntil(lambda: page.model_box.choices.row_of(str(forged)) >= 0, timeout=30_000)
    with faults.inject("studio: llama.cpp aborts loading a model"):
        with qtbot.waitSignal(page.session.load_failed, timeout=LOAD_MS):
            page.models.select_model(str(forged))
        assert window.isVisible() and window.banner.isVisible()
        assert window.banner_text.text().startswith(f"{forged.name} could not be loaded:")
        assert "GGML_ASSERT" in window.banner_text.text()
        assert page.model_status.text() == "No model loaded"
        load(qtbot, page, starter)
        answer, _stats = ask(qtbot, page, "Name the capital city of France.")
        assert "Paris" in answer


def test_a_host_killed_mid_answer_keeps_the_chat(window, qtbot, faults, starter_home, starter_gguf):
    page = window.chat_page
    starter = page.session.model.path
    page.panel.max_tokens.setValue(400)
    tokens: list[str] = []
    page.answer_token.connect(tokens.append)
    with faults.inject("studio: model host killed mid-answer"):
        page.input.setPlainText(STORY)
        with qtbot.waitSignal(page.answer_token, timeout=ANSWER_MS):
            qtbot.keyClick(page.input, Qt.Key_Return)
        with qtbot.waitSignal(page.answer_failed, timeout=ANSWER_MS) as failed:
            os.kill(page.session.engine.host_pid, signal.SIGKILL)
        message = failed.args[0]
        assert message.startswith(
            f"{starter_gguf.name} stopped while answering: the system stopped it"
        )
        assert window.isVisible() and window.banner_text.text() == message
        saved = page.store.messages(page.chat_id)
        assert [m.role for m in saved] == ["user", "assistant"]
        # Nothing lost: the file holds what the transcript showed. Each piece's "on disk"
        # signal comes from the writer's thread a moment after the failure is said, so the
        # pieces are waited for, not read at once (a loaded run saw "Once" of "Once upon").
        assert saved[1].content and saved[1].content in page.transcript.toPlainText()
        qtbot.waitUntil(lambda: "".join(tokens) == saved[1].content, timeout=10_000)
        assert "Interrupted" in page.transcript.toPlainText()
        # The same model comes back in a fresh process; the chat goes on.
        assert page.model_status.text() == f"{starter.name} stopped; loading it again..."
        assert page.session.model is None and not page.stop_button.isEnabled()
        qtbot.waitUntil(lambda: page.session.model is not None, timeout=LOAD_MS)
        assert page.send_button.isEnabled()
        answer, _stats = ask(qtbot, page, "Name the capital city of France.")
        assert "Paris" in answer
        assert len(page.store.messages(page.chat_id)) == 4  # the chat went on


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_chat_pages_stop_leaves_an_api_answer_whole(window, qtbot):
    """While an API client is answered, the page's Stop is off and stops nothing of it."""
    page, panel = window.chat_page, window.server_panel
    panel.port_box.setValue(free_port())
    panel.toggle.setChecked(True)
    result = {}

    def client() -> None:
        with openai.OpenAI(base_url=panel.server.url, api_key="x", max_retries=0, timeout=120) as c:
            result["reply"] = c.chat.completions.create(
                model="starter",
                messages=[{"role": "user", "content": STORY}],
                max_tokens=120,
                temperature=0.0,
            )

    thread = threading.Thread(target=client)
    with qtbot.waitSignal(page.session.sent, timeout=ANSWER_MS) as sent:
        thread.start()
    api_tokens: list[str] = []
    sent.args[0].token.connect(api_tokens.append)
    qtbot.waitUntil(lambda: len(api_tokens) >= 2, timeout=ANSWER_MS)
    assert not page.stop_button.isEnabled()  # nothing of the page's to stop
    page.stop_answer()
    qtbot.mouseClick(page.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=ANSWER_MS)
    thread.join()
    reply = result["reply"]
    assert reply.usage.completion_tokens == 120 and reply.choices[0].finish_reason == "length"
    panel.toggle.setChecked(False)


def test_deleting_the_open_chat_mid_answer(window, qtbot):
    page = window.chat_page
    page.panel.max_tokens.setValue(400)
    page.input.setPlainText(STORY)
    with qtbot.waitSignal(page.answer_token, timeout=ANSWER_MS):
        qtbot.keyClick(page.input, Qt.Key_Return)
    chat = page.chat_id
    page.delete_chat(chat)
    assert page.chat_id == 0 and page.store.list_chats() == []
    qtbot.waitUntil(lambda: not page.session.busy, timeout=ANSWER_MS)  # the answer stopped
    qtbot.wait(200)  # anything still in flight has landed
    assert not window.banner.isVisible()  # nothing unexpected to say
    assert page.send_button.isEnabled()
    answer, _stats = ask(qtbot, page, "Name the capital city of France.")
    assert "Paris" in answer and len(page.store.list_chats()) == 1


def test_a_compare_column_whose_model_aborts_fails_alone(qtbot, faults, starter_gguf, tmp_path):
    """Side by side: one column's model makes llama.cpp abort; that column says so, the other
    answers."""
    from app.core.inference.model_choice import ModelChoice
    from app.core.inference.types import SamplingOptions
    from app.ui.compare.runner import CompareRunner
    from app.ui.session.session import ChatSession

    forged = crash_models.duplicate_token(starter_gguf, tmp_path)
    choices = [
        ModelChoice("local", "starter", path=str(starter_gguf)),
        ModelChoice("local", "forged", path=str(forged)),
    ]
    runner = CompareRunner(lambda parent: ChatSession(parent=parent))  # Services.new_session
    done: dict[int, tuple] = {}
    runner.done.connect(lambda index, stats, message: done.update({index: (stats, message)}))
    try:
        with faults.inject("compare: one column's model aborts llama.cpp"):
            with qtbot.waitSignal(runner.all_done, timeout=ANSWER_MS):
                runner.run(
                    choices,
                    "Name the capital city of France.",
                    SamplingOptions(temperature=0.0, max_tokens=16, seed=1),
                    None,
                )
            (good, good_message), (bad, bad_message) = done[0], done[1]
            assert good is not None and good.tokens > 0 and good_message == ""
            assert bad is None and bad_message.startswith(f"{forged.name} could not be loaded")
    finally:
        runner.shutdown()
