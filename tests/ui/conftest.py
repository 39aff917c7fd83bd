"""Fixtures the UI tests share."""

import pytest

from tests.support.llama_server import REMOTE_KEY, llama_server


@pytest.fixture(scope="module")
def server(starter_gguf, tmp_path_factory):
    """A real OpenAI-compatible server on 127.0.0.1 serving the starter model, asking for
    ``REMOTE_KEY``; its address ends in /v1."""
    with llama_server(
        starter_gguf, tmp_path_factory.mktemp("llama") / "server.log", api_key=REMOTE_KEY
    ) as url:
        yield url


@pytest.fixture
def keeper(qapp):
    """The application's theme keeper (app/ui/theme.py); the platform's look is put back
    after the test, so the next one starts without Hearth's stylesheet."""
    from app.ui import theme

    keeper = qapp.findChild(theme.ThemeKeeper) or theme.ThemeKeeper(qapp)
    platform = keeper.platform_palette
    yield keeper
    keeper.setParent(None)
    qapp.setStyleSheet("")
    qapp.setPalette(platform)
