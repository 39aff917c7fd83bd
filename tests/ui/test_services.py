"""The studio's shared parts are built once, by ``Services``, and the pages take them from it."""

from collections import Counter

import pytest

from app.core.chats.store import ChatStore
from app.core.compare.arena import ArenaStore
from app.core.config.settings import Settings
from app.core.fit.machine_info import MachineInfo
from app.core.inference.remote import ConnectionStore
from app.core.library import catalog
from app.core.measure.store import MeasureStore
from app.ui.chat.page import ChatPage
from app.ui.downloads.manager import DownloadManager
from app.ui.main_window import PAGES, MainWindow
from app.ui.my_models.library_model import LibraryModel
from app.ui.services import Services
from app.ui.session.session import ChatSession

SHARED = (
    MachineInfo,
    ConnectionStore,
    MeasureStore,
    ArenaStore,
    ChatStore,
    LibraryModel,
    DownloadManager,
    ChatSession,
)


@pytest.fixture
def built(monkeypatch) -> Counter:
    """How many of each shared part get built (each still built for real), and how many
    library scans run."""
    counts: Counter = Counter()
    for cls in SHARED:

        def counted(self, *args, _init=cls.__init__, _name=cls.__name__, **kwargs):
            counts[_name] += 1
            _init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counted)
    scan = catalog.list_for_user

    def counted_scan(*args, **kwargs):
        counts["library scan"] += 1
        return scan(*args, **kwargs)

    monkeypatch.setattr(catalog, "list_for_user", counted_scan)
    return counts


def test_the_whole_window_builds_each_shared_part_once(qtbot, starter_home, loopback_hub, built):
    win = MainWindow(starter_home, Settings(), hub_endpoint=loopback_hub.url)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.library.modelReset, timeout=10_000):
        win.show()  # the first scan follows the first paint
    for name in PAGES:  # every page, as the user opens each in the sidebar
        win.open_page(name)
        assert win.pages.currentWidget() is win._built[name]
    win.toggle_downloads()
    win.toggle_server()
    qtbot.waitUntil(lambda: not win.session.busy, timeout=60_000)  # the starter model loads
    assert dict(built) == {cls.__name__: 1 for cls in SHARED} | {"library scan": 1}
    services = win.services
    assert win.models_page.library is services.library is win.chat_page.library
    assert win.chat_page.connections is services.connections
    assert win.session is services.session is win.chat_page.session
    assert win.downloads is services.downloads
    win.shutdown()


def test_a_page_built_from_services_shows_the_library_they_scanned(qtbot, starter_home):
    settings = Settings()
    services = Services(starter_home, settings)
    page = ChatPage(
        services.session,
        services.library,
        settings,
        services.stores.chats,
        connections=services.connections,
    )
    qtbot.addWidget(page)
    with qtbot.waitSignal(services.library.modelReset, timeout=10_000):
        services.refresh_library()
    assert page.model_box.currentText().startswith("SmolLM2-135M-Instruct")
    qtbot.waitUntil(lambda: "loaded" in page.model_status.text(), timeout=60_000)
    assert page.session is services.session
    page.finish_interrupted_answer()
    services.session.shutdown()
    services.stores.close()
