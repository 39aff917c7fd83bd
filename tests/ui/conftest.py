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
    yield keeper
    keeper.remove()  # safely while the test's widgets wait for deletion (see remove)
    keeper.setParent(None)


@pytest.fixture(autouse=True)
def widgets_deleted_after_each_test(qapp):
    """Delete what the test scheduled for deletion (pytest-qt closes and deleteLater()s the
    widgets it was given) before the next test starts: each test starts without the last one's
    widgets. Added when a model page of one test, still there, crashed the next test's switch
    to dark (issue 19). Its cause was the theme taken off while that page waited for deletion,
    now done safely by ``ThemeKeeper.remove`` (the keeper above) and replayed in
    test_theme_switch."""
    yield
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def services(qtbot, hearth_home):
    """What the studio builds once at start (app/ui/services.py) in this test's HEARTH_HOME:
    a page built alone takes its stores, connections, machine report and model hosts from it,
    as in the window. Closed before qtbot closes the test's widgets."""
    from app.core.config.settings import Settings
    from app.ui.services import Services

    built = Services(hearth_home, Settings())
    yield built
    built.session.shutdown()
    built.stores.close()
