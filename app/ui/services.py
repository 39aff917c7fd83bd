"""``Services``: what the studio builds once at start and hands to its pages.

The stores (chats, arena votes, measurements), the saved connections, the machine's hardware
report, the library (the list of models on this computer and its scan), the model host the
Chat page and the API server share, and the download manager are each opened, probed or built
here once; the pages take them from their constructors and never build their own (they used
to: the machine was probed by five pages, the measurements and connections opened twice, the
library, the downloads and the model host built by the window in three places).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from app.core.common.paths import Paths
from app.core.config.settings import Settings
from app.core.fit.machine_info import MachineInfo
from app.core.inference.remote import ConnectionStore
from app.core.stores import Stores, open_stores
from app.ui.common.tasks import run_task
from app.ui.my_models.library_model import LibraryModel
from app.ui.session.session import ChatSession

if TYPE_CHECKING:
    from app.ui.downloads.manager import DownloadManager


class Services(QObject):
    """Built once in ``run_gui`` (or by ``MainWindow`` when not given one); owns what it built."""

    scan_failed = Signal(str)  # the library could not be listed: one sentence for the user

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        *,
        stores: Stores | None = None,
        session: ChatSession | None = None,
        hub_endpoint: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        """Open everything; a damaged file never raises here (each store says what it set
        aside in ``stores.notices``). The stores come first: nothing that can fail may run
        after the model host's thread starts (an exception then aborted the process)."""
        super().__init__(parent)
        self.paths, self.settings, self.hub_endpoint = paths, settings, hub_endpoint
        self.stores = stores or open_stores(paths)
        self.connections = ConnectionStore(paths.config_dir / "connections.json")
        self.machine = MachineInfo(paths.models_dir)
        self.library = LibraryModel(self)
        self.session = session or ChatSession(parent=self)  # Chat's and the API server's host
        self._downloads: DownloadManager | None = None

    def new_session(self, parent: QObject) -> ChatSession:
        """A model host of its own, for a Compare column (two models answer at once); Chat
        and the API server share ``session``."""
        return ChatSession(parent=parent)

    @property
    def downloads(self) -> DownloadManager:
        """The download manager, built when first asked for: its imports cost ~35 ms of the
        start, so the window asks after the first paint."""
        if self._downloads is None:
            from app.core.downloads.downloader import Downloader
            from app.core.downloads.history import FILE_NAME
            from app.ui.downloads.manager import DownloadManager

            self._downloads = DownloadManager(
                Downloader(endpoint=self.hub_endpoint),
                parent=self,
                history_file=self.paths.data_dir / FILE_NAME,
            )
            self._downloads.finished.connect(self.refresh_library)
        return self._downloads

    @Slot()
    def refresh_library(self) -> None:
        """Scan the model folders off the GUI thread; the library's list follows (a newer scan
        replaces one still running)."""
        from app.core.library import catalog  # ~10 ms: after the first paint

        paths, settings = self.paths, replace(self.settings)
        run_task(
            lambda: catalog.list_for_user(paths, settings, adapters=True),
            self.library.set_models,
            self.scan_failed.emit,
            self,
            key="library",
            name="library scan",
        )
