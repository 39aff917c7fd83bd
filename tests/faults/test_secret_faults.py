"""Secrets stay secret: a Hub token and API keys never land in logs, exported chats, settings,
download records or crash reports.

Real code paths run with recognisable fake secrets (a Hub token ``hf_TESTSECRET...``, an API key
``sk-TESTSECRET...``), with Hearth's real log set-up writing its log file; then the whole
temporary tree is searched for them. The only files allowed to hold one are the stores meant for
it: huggingface_hub's token files and Hearth's ``connections.json`` (and the chat database, for
a chat's own settings).
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import constants

from app.core.chats import export
from app.core.chats.store import ChatStore
from app.core.common.errors import DownloadError, GatedModelError, HearthError, RemoteError
from app.core.common.paths import Paths
from app.core.config.settings import Settings
from app.core.downloads.downloader import Downloader
from app.core.downloads.http import RetryPolicy
from app.core.hub.client import HubClient, SearchQuery, save_token
from app.core.inference.remote import Connection, ConnectionStore, list_models
from tests.faults.tally import Tally
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.hub_server import LoopbackHub
from tests.support.logs import hearth_logging

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("plain_http_client")]

TOKEN = "hf_TESTSECRET123456789"
WRONG_TOKEN = "hf_TESTSECRETWRONG987654"
API_KEY = "sk-TESTSECRET123456789abcdef"
SECRETS = (TOKEN, WRONG_TOKEN, API_KEY, "TESTSECRET")
GATED = "meta/Gated-GGUF"
NAME = gguf_name("Gated", "Q4_K_M")


@pytest.fixture
def log_file(hearth_home: Paths) -> Iterator[Path]:
    """Hearth's real log set-up (rotating file, redaction filter), undone after the test."""
    with hearth_logging(hearth_home.log_file) as path:
        yield path


def leaks(root: Path, allowed: tuple[Path, ...] = ()) -> list[str]:
    """Every file under ``root`` (but ``allowed``) holding a secret, with the secret."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and path not in allowed:
            data = path.read_bytes()
            found += [
                f"{path.relative_to(root)}: {secret}"
                for secret in SECRETS
                if secret.encode() in data
            ]
    return found


def token_stores(tmp_path: Path) -> tuple[Path, ...]:
    return (tmp_path / "hf" / "token", tmp_path / "hf" / "stored_tokens")


@pytest.fixture
def gated(loopback_hub: LoopbackHub) -> LoopbackHub:
    add_gguf_family(loopback_hub, GATED, {NAME: os.urandom(1_500_000)}, gated=True)
    loopback_hub.valid_tokens.add(TOKEN)
    return loopback_hub


def test_downloads_with_a_token_leave_it_nowhere(
    gated: LoopbackHub,
    log_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    faults: Tally,
) -> None:
    sleeps: list[float] = []
    with faults.inject("a download with a Hub token: refused, dropped, resumed"):
        with pytest.raises(GatedModelError):
            Downloader(
                endpoint=gated.url, token=WRONG_TOKEN, retry=RetryPolicy(sleep=sleeps.append)
            ).download(GATED, NAME)
        monkeypatch.setenv("HF_TOKEN", TOKEN)  # huggingface_hub's get_token() reads it
        gated.drop_after(NAME, 600_000)
        with pytest.raises(DownloadError):
            Downloader(
                endpoint=gated.url, retry=RetryPolicy(attempts=1, sleep=sleeps.append)
            ).download(GATED, NAME)
        assert list((tmp_path / "hf").rglob("*.part.json")), "no download record to check"
        Downloader(endpoint=gated.url, retry=RetryPolicy(sleep=sleeps.append)).download(GATED, NAME)

        assert "is gated" in log_file.read_text() and "Downloaded" in log_file.read_text()
        assert leaks(tmp_path) == []


def test_hub_searches_and_a_saved_token_leave_it_nowhere_else(
    gated: LoopbackHub,
    log_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    faults: Tally,
) -> None:
    # huggingface_hub read its token paths at import, before HF_HOME pointed at tmp_path
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf" / "stored_tokens"))
    gated.fail("/api/models?", status=503, count=1)
    with faults.inject("Hub look-ups with a token, one refused"):
        client = HubClient(gated.url, token=TOKEN, sleep=lambda _: None)
        assert client.search(SearchQuery("Gated")).next_page()
        assert client.details(GATED).gated
        with pytest.raises(HearthError):
            HubClient(gated.url, token=WRONG_TOKEN, sleep=lambda _: None).details("meta/Missing")
        message = save_token(TOKEN, endpoint=gated.url)

        assert TOKEN not in message
        assert (tmp_path / "hf" / "token").read_text().strip() == TOKEN  # where it belongs
        assert leaks(tmp_path, allowed=token_stores(tmp_path)) == []


def test_exported_chats_carry_no_credentials(
    hearth_home: Paths, tmp_path: Path, faults: Tally
) -> None:
    settings = {
        "temperature": 0.5,
        "api_key": API_KEY,
        "hfToken": TOKEN,
        "max_tokens": 64,
        "remote": {
            "Authorization": f"Bearer {API_KEY}",
            "headers": [{"x-api-key": API_KEY}, {"password": WRONG_TOKEN}],
        },
    }
    with ChatStore(hearth_home.chats_db) as store:
        chat = store.create_chat("Secret-laden settings")
        store.update_chat(chat.id, settings_json=json.dumps(settings))
        store.add_message(chat.id, "user", "Hello")
        answer = store.begin_answer(chat.id)
        store.append_to_answer(answer, "Hi")
        store.finish_answer(answer, {"tokens": 1, "access_token": TOKEN}, "stop")
        with faults.inject("exporting a chat whose settings hold credentials"):
            exported = [
                export.export(store, chat.id, tmp_path / "chat.json"),
                export.export(store, chat.id, tmp_path / "chat.md"),
            ]

            assert json.loads(exported[0].read_text())["settings"]["temperature"] == 0.5
            database = tuple(hearth_home.data_dir.glob("chats.sqlite3*"))
            assert leaks(tmp_path, allowed=database) == []


def test_settings_and_saved_connections_keep_keys_in_their_own_file(
    hearth_home: Paths, log_file: Path, tmp_path: Path, faults: Tally
) -> None:
    store = ConnectionStore(hearth_home.config_dir / "connections.json")
    with faults.inject("saving a remote connection with an API key, and the settings"):
        store.save(Connection("Lab server", "http://127.0.0.1:9/v1", API_KEY))
        logging.getLogger("hearth.remote").info("Saved %r", store.get("Lab server"))
        Settings(last_model="Lab server").save(hearth_home.settings_file)

        assert store.get("Lab server").api_key == API_KEY
        assert (store.path.stat().st_mode & 0o077) == 0, "connections.json is readable by others"
        assert leaks(tmp_path, allowed=(store.path,)) == []


class _Refusing(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible server that refuses every API key."""

    def do_GET(self) -> None:
        body = json.dumps({"error": {"message": f"Invalid key {self.headers['Authorization']}"}})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_refused_api_key_is_not_repeated_back(
    refusing_server: str, log_file: Path, tmp_path: Path, faults: Tally
) -> None:
    with faults.inject("a remote server refusing the API key (and echoing it)"):
        with pytest.raises(RemoteError) as refused:
            list_models(Connection("Lab", refusing_server, API_KEY), timeout=5)
        logging.getLogger("hearth.remote").warning("%s", refused.value)

        assert API_KEY not in str(refused.value)
        assert leaks(tmp_path) == []


def test_an_api_key_pasted_with_a_newline_is_a_clear_error(
    refusing_server: str, faults: Tally
) -> None:
    with faults.inject("an API key pasted with a trailing newline"):
        with pytest.raises(RemoteError) as failure:
            list_models(Connection("Lab", refusing_server, API_KEY + "\n"), timeout=5)

        assert API_KEY not in str(failure.value)


def test_a_crash_report_never_holds_a_secret(
    qtbot, log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: Tally
) -> None:
    from app.ui.application import ErrorReporter

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    reporter = ErrorReporter()
    reporter.install()
    shown: list[str] = []
    reporter.error.connect(shown.append)
    with faults.inject("an unexpected error whose message holds a token and a key"):
        try:  # what http.client raises for a header with a newline
            raise ValueError(f"Invalid header value b'Bearer {API_KEY}\\n' ({TOKEN})")
        except ValueError:
            sys.excepthook(*sys.exc_info())

        assert "Traceback" in log_file.read_text() and shown  # the report was written, shown
        assert (
            leaks(tmp_path)
            + [f"shown in the window: {secret}" for secret in SECRETS if secret in shown[0]]
            == []
        )
