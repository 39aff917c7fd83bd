"""A gated model's token entry, used as a user uses it, against the loopback Hub's whoami."""

from __future__ import annotations

import logging
import os

import pytest
from huggingface_hub import get_token
from PySide6.QtCore import Qt, QThreadPool

from app.core.common.paths import Paths
from app.ui.discover.token_entry import PROMPT, TokenEntry
from tests.support.hub_server import LoopbackHub
from tests.support.logs import hearth_logging

WAIT = 15_000
SECRET = "hf_" + "Zq8rT2vLk9" * 3  # what a real token looks like
WRONG = "hf_" + "Wr0ngT0ken" * 3


@pytest.fixture(autouse=True)
def log_file(hearth_home: Paths):
    """Hearth's real log set-up (rotating file), undone after the test."""
    with hearth_logging(hearth_home.log_file) as path:
        yield path
    assert QThreadPool.globalInstance().waitForDone(WAIT)


@pytest.fixture
def entry(qtbot, loopback_hub: LoopbackHub) -> TokenEntry:
    loopback_hub.valid_tokens.add(SECRET)
    loopback_hub.token_users[SECRET] = "ada"
    widget = TokenEntry(lambda: loopback_hub.url)
    qtbot.addWidget(widget)
    widget.resize(900, 60)
    widget.show()
    return widget


def type_and_save(qtbot, entry: TokenEntry, token: str, signal) -> list:
    entry.field.setText(token)
    with qtbot.waitSignal(signal, timeout=WAIT) as blocker:
        qtbot.keyClick(entry.field, Qt.Key_Return)
        assert entry.button.text() == "Checking…" and not entry.button.isEnabled()
    return blocker.args


def logged(log_file) -> str:
    for handler in logging.getLogger("hearth").handlers:
        handler.flush()
    return log_file.read_text(encoding="utf-8") if log_file.exists() else ""


def test_a_valid_token_is_checked_then_stored(
    qtbot, entry, loopback_hub, log_file, tmp_path
) -> None:
    (message,) = type_and_save(qtbot, entry, SECRET, entry.saved)

    assert (
        message
        == entry.note.text()
        == ("Token saved for the Hugging Face tools on this computer. Signed in as ada.")
    )
    assert get_token() == SECRET and entry.field.text() == ""
    assert entry.button.isEnabled() and entry.note.objectName() == "note"
    assert loopback_hub.requests_matching("/api/whoami-v2")
    assert "Hub token of ada saved" in logged(log_file)
    assert SECRET[3:] not in logged(log_file)
    entry.grab().save(os.fspath(tmp_path / "token.png"))


def test_an_invalid_token_is_refused_and_kept_in_the_field(
    qtbot, entry, log_file, tmp_path
) -> None:
    (message,) = type_and_save(qtbot, entry, WRONG, entry.refused)

    assert message.startswith("The Hub says this token is not valid.")
    assert entry.note.text() == message and entry.note.objectName() == "error"
    assert entry.field.text() == WRONG  # nothing lost: fix it or paste another
    assert entry.field.echoMode() == entry.field.EchoMode.Password
    assert get_token() is None and not (tmp_path / "hf" / "token").exists()
    assert WRONG[3:] not in logged(log_file) and SECRET[3:] not in logged(log_file)


def test_a_token_is_not_stored_while_the_hub_cannot_check_it(
    qtbot, entry, loopback_hub, log_file
) -> None:
    loopback_hub.fail("/api/whoami-v2", status=503)

    (message,) = type_and_save(qtbot, entry, SECRET, entry.refused)

    assert message.startswith("The token could not be checked, so it was not saved:")
    assert "(error 503)" in message and get_token() is None
    type_and_save(qtbot, entry, SECRET, entry.saved)  # the Hub is back: Save again works
    assert get_token() == SECRET
    entry.reset()
    assert entry.note.text() == PROMPT and entry.note.objectName() == "note"
    assert SECRET[3:] not in logged(log_file)
