"""The connections manager driven as a user drives it, against llama-cpp-python's own
OpenAI-compatible server (a real third-party server) on 127.0.0.1, started with an API key."""

import json
import socket

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from app.core.common.logs import setup_logging
from app.core.inference.model_choice import ConnectionModels, local_choices, remote_choice
from app.core.inference.remote import Connection, ConnectionStore
from app.core.library.catalog import LocalModel
from app.ui.application import apply_style
from app.ui.chat.connections_dialog import ConnectionsDialog
from app.ui.chat.connections_model import ConnectionsModel, HasKeyRole, UrlRole
from app.ui.chat.model_choice_model import KindRole, ModelChoiceModel
from tests.support.llama_server import REMOTE_KEY as KEY
from tests.support.llama_server import free_port
from tests.support.screenshots import screenshot

TEST_MS = 30_000


@pytest.fixture
def styled(qapp, keeper):
    """The application's own look, for screenshots; the keeper fixture takes it off after
    (``ThemeKeeper.remove``, which also clears the style flags Qt 6.11 leaves behind)."""
    apply_style(qapp)


@pytest.fixture
def log_file(hearth_home):
    setup_logging(hearth_home.log_file)
    return hearth_home.log_file


@pytest.fixture
def dialog(qtbot, hearth_home):
    win = ConnectionsDialog(ConnectionStore(), timeout=5, confirm=lambda _p, _q: True)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.listed, timeout=TEST_MS):  # read on the pool
        win.show()
    return win


def click_and_list(qtbot, dialog, button):
    """Click Save or Remove and wait for the saved list to be read again (on the pool)."""
    with qtbot.waitSignal(dialog.listed, timeout=TEST_MS):
        qtbot.mouseClick(button, Qt.LeftButton)


def fill(dialog, name, url, key=""):
    dialog.name.setText(name)
    dialog.url.setText(url)
    dialog.key.setText(key)


def press_test(qtbot, dialog) -> bool:
    with qtbot.waitSignal(dialog.tested, timeout=TEST_MS) as ended:
        qtbot.mouseClick(dialog.test_button, Qt.LeftButton)
    assert dialog.test_button.isEnabled() and dialog.test_button.text() == "Test"
    return ended.args[0]


def test_add_a_connection_test_it_and_save_it(
    qtbot, styled, dialog, server, starter_gguf, log_file
):
    fill(dialog, "Workstation", server, KEY)
    assert dialog.key.echoMode() == QLineEdit.Password  # shown masked
    assert press_test(qtbot, dialog)
    assert dialog.models.stringList() == [starter_gguf.name]
    assert "Connected: 1 model available." in dialog.status.text()
    click_and_list(qtbot, dialog, dialog.save_button)
    saved = ConnectionStore().connections()
    assert [(c.name, c.base_url, c.api_key) for c in saved] == [("Workstation", server, KEY)]
    assert dialog.model.rowCount() == 1 and dialog.list.currentIndex().row() == 0
    assert dialog.model.index(0).data(HasKeyRole) is True
    dialog.show_key.setChecked(True)
    assert dialog.key.echoMode() == QLineEdit.Normal
    dialog.show_key.setChecked(False)
    assert dialog.models.stringList() == [starter_gguf.name]  # still shown after saving
    screenshot(dialog, "connections.png")
    text = log_file.read_text()
    assert "Saved the connection Workstation" in text and KEY not in text


def test_a_wrong_or_missing_key_is_explained(qtbot, dialog, server, log_file):
    fill(dialog, "Workstation", server, "not-the-key-1234")
    assert not press_test(qtbot, dialog)
    assert "refused the API key (HTTP 401)" in dialog.status.text()
    assert dialog.models.stringList() == []
    fill(dialog, "Workstation", server)
    assert not press_test(qtbot, dialog)
    assert "needs an API key (HTTP 401)" in dialog.status.text()
    assert "not-the-key" not in log_file.read_text()


def test_unreachable_and_wrong_servers_are_explained(qtbot, dialog, server):
    fill(dialog, "Nobody", f"http://127.0.0.1:{free_port()}/v1")
    assert not press_test(qtbot, dialog)
    assert "the connection was refused" in dialog.status.text()
    assert "Is the server running" in dialog.status.text()

    fill(dialog, "Wrong path", server.removesuffix("/v1") + "/api", KEY)
    assert not press_test(qtbot, dialog)
    assert "no OpenAI-compatible API" in dialog.status.text()
    assert "usually ends with /v1" in dialog.status.text()

    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        dialog.timeout = 1
        fill(dialog, "Silent", f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
        assert not press_test(qtbot, dialog)
    assert "did not answer within 1 s" in dialog.status.text()

    fill(dialog, "Typo", "localhost:8080")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert "is not a server address" in dialog.status.text()
    fill(dialog, "", "http://127.0.0.1:8080/v1")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert "Give the connection a name" in dialog.status.text()
    assert ConnectionStore().connections() == []  # nothing half-saved


def test_edit_rename_and_remove(qtbot, dialog):
    changes = []
    dialog.changed.connect(lambda: changes.append(1))
    fill(dialog, "Ollama", "http://127.0.0.1:11434")
    click_and_list(qtbot, dialog, dialog.save_button)
    qtbot.mouseClick(dialog.add_button, Qt.LeftButton)
    assert dialog.name.text() == "" and not dialog.remove_button.isEnabled()
    fill(dialog, "vLLM", "http://10.0.0.5:8000/v1", "secret-key-000")
    click_and_list(qtbot, dialog, dialog.save_button)
    dialog.list.setCurrentIndex(dialog.model.index(dialog.model.row_of("Ollama")))
    assert dialog.url.text() == "http://127.0.0.1:11434/v1" and dialog.key.text() == ""
    dialog.name.setText("Ollama box")
    click_and_list(qtbot, dialog, dialog.save_button)
    assert [c.name for c in ConnectionStore().connections()] == ["vLLM", "Ollama box"]
    dialog.list.setCurrentIndex(dialog.model.index(dialog.model.row_of("vLLM")))
    assert dialog.key.text() == "secret-key-000"
    click_and_list(qtbot, dialog, dialog.remove_button)
    assert [c.name for c in ConnectionStore().connections()] == ["Ollama box"]
    assert dialog.model.rowCount() == 1 and dialog.name.text() == "Ollama box"
    assert len(changes) == 4


def test_damaged_connections_file_is_reported(qtbot, hearth_home):
    store = ConnectionStore()
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text("{damaged")
    win = ConnectionsDialog(store)
    qtbot.addWidget(win)
    assert win.model.rowCount() == 0 and "could not be used" not in win.status.text()  # pool
    with qtbot.waitSignal(win.listed, timeout=TEST_MS):
        pass
    assert "Your saved connections could not be used" in win.status.text()
    assert "kept the damaged file as connections.json.damaged-" in win.status.text()
    assert store.connections() == []  # Hearth goes on without them; the copy is kept


def test_models_pass_the_model_tester(qtmodeltester, starter_gguf):
    connections = ConnectionsModel()
    one, two = Connection("a", "http://127.0.0.1:1", "k-1"), Connection("b", "http://h:2/v1")
    connections.set_connections([one, two])
    qtmodeltester.check(connections, force_py=True)
    assert connections.index(1).data(UrlRole) == "http://h:2/v1"
    assert connections.index(0).data(Qt.ToolTipRole).endswith("API key set")
    assert "k-1" not in json.dumps(
        [connections.index(0).data(r) for r in (Qt.DisplayRole, Qt.ToolTipRole, UrlRole)]
    )

    choices = ModelChoiceModel()
    local = LocalModel("SmolLM2", starter_gguf, "Q4_1", 1, "starter")
    choices.set_local(local_choices([local]))
    choices.set_connections([one, two])
    qtmodeltester.check(choices, force_py=True)
    choices.set_listed(
        ConnectionModels(
            one, (remote_choice(one, "/m/llama-3.gguf"), remote_choice(one, "qwen2.5:7b"))
        )
    )
    choices.set_listed(ConnectionModels(two, error="Could not reach b"))
    qtmodeltester.check(choices, force_py=True)
    shown = [
        (choices.index(r).data(), choices.index(r).data(KindRole))
        for r in range(choices.rowCount())
    ]
    assert shown == [
        ("SmolLM2 · Q4_1", "local"),
        ("a", "heading"),
        ("a · llama-3.gguf", "remote"),
        ("a · qwen2.5:7b", "remote"),
        ("b: not available", "heading"),
        ("Manage connections...", "manage"),
    ]
    assert not choices.flags(choices.index(1)) & Qt.ItemIsEnabled
    assert choices.index(4).data(Qt.ToolTipRole) == "Could not reach b"


def test_typing_while_a_save_is_written_is_kept(qtbot, dialog):
    fill(dialog, "Ollama", "http://127.0.0.1:11434")
    click_and_list(qtbot, dialog, dialog.save_button)
    assert dialog.url.text() == "http://127.0.0.1:11434/v1"  # the form shows what was saved
    with qtbot.waitSignal(dialog.listed, timeout=TEST_MS):
        qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
        dialog.key.setText("typed while it saves")
    assert dialog.key.text() == "typed while it saves"
    assert ConnectionStore().connections()[0].api_key == ""


def test_save_writes_on_the_pool_one_change_at_a_time(qtbot, dialog):
    fill(dialog, "Ollama", "http://127.0.0.1:11434")
    with qtbot.waitSignal(dialog.listed, timeout=TEST_MS):
        qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
        # The window goes on while the file is written; Save waits for this change to land.
        assert not dialog.save_button.isEnabled() and not dialog.remove_button.isEnabled()
        fill(dialog, "vLLM", "http://10.0.0.5:8000/v1")
        assert dialog.save_connection() is False
    assert dialog.save_button.isEnabled() and dialog.remove_button.isEnabled()
    assert [c.name for c in ConnectionStore().connections()] == ["Ollama"]
    qtbot.mouseClick(dialog.add_button, Qt.LeftButton)
    fill(dialog, "vLLM", "http://10.0.0.5:8000/v1")
    click_and_list(qtbot, dialog, dialog.save_button)
    assert [c.name for c in ConnectionStore().connections()] == ["Ollama", "vLLM"]
