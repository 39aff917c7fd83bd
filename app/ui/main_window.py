"""The main window: a sidebar like LM Studio's and one page per area."""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import QByteArray, QSize, Qt, QThreadPool, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.common.errors import SettingsError
from app.core.common.paths import Paths
from app.core.common.resources import resource
from app.core.config.settings import Settings
from app.core.downloads.downloader import Downloader
from app.core.library import catalog as library
from app.core.storage.stores import Stores
from app.ui.common.tasks import run_task
from app.ui.downloads.manager import DownloadManager
from app.ui.downloads.model import Role
from app.ui.downloads.panel import DownloadsPanel
from app.ui.my_models.library_model import LibraryModel
from app.ui.server.panel import ServerPanel
from app.ui.services import Services
from app.ui.session.session import ChatSession

log = logging.getLogger("hearth.ui.window")

PAGES = ("Discover", "My Models", "Chat", "Compare", "Hardware")
_ICONS = {
    "Discover": "discover",
    "My Models": "models",
    "Chat": "chat",
    "Compare": "compare",
    "Hardware": "hardware",
}


class MainWindow(QMainWindow):
    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        session: ChatSession | None = None,
        hub_endpoint: str | None = None,
        stores: Stores | None = None,
        services: Services | None = None,
    ) -> None:
        super().__init__()
        from app.ui.chat.page import ChatPage
        from app.ui.compare.page import ComparePage
        from app.ui.discover.page import DiscoverPage
        from app.ui.hardware.page import HardwarePage
        from app.ui.my_models.page import ModelsPage

        self.paths = paths
        self.settings = settings
        self.setWindowTitle("Hearth")
        self._shut_down = False
        self.resize(1280, 800)
        self.library = LibraryModel(self)
        # The stores first: they never raise for a bad file, and nothing that can fail may run
        # after the inference thread starts (an exception then aborted the process, exit 134).
        self.services = services or Services.open(paths, stores)
        self.stores = self.services.stores
        self.chat_store = self.stores.chats
        self.session = session or ChatSession(parent=self)
        self.downloads = DownloadManager(Downloader(endpoint=hub_endpoint), parent=self)
        self.downloads.finished.connect(self.refresh_library)
        self.downloads.state_changed.connect(self._on_download_state)

        self.sidebar = QListWidget(objectName="sidebar")
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFixedWidth(190)
        for name in PAGES:
            item = QListWidgetItem(QIcon(str(resource("icons", f"{_ICONS[name]}.svg"))), name)
            self.sidebar.addItem(item)

        self.pages = QStackedWidget()
        machine, connections = self.services.machine, self.services.connections
        self.discover_page = DiscoverPage(
            endpoint=hub_endpoint,
            downloads=self.downloads,
            models_dir=paths.models_dir,
            machine_info=machine,
        )
        self.models_page = ModelsPage(
            self.library,
            folders=settings.model_folders,
            hidden=settings.hidden_models,
            measure_store=self.stores.measurements,
            machine_info=machine,
        )
        self.chat_page = ChatPage(
            self.session, self.library, settings, self.chat_store, connections=connections
        )
        self.compare_page = ComparePage(
            self.library,
            paths,
            store=self.stores.measurements,
            arena_store=self.stores.arena,
            machine_info=machine,
            connections=connections,
        )
        self.hardware_page = HardwarePage(paths, probe=machine.refresh)
        for page in (
            self.discover_page,
            self.models_page,
            self.chat_page,
            self.compare_page,
            self.hardware_page,
        ):
            page.setObjectName("page")
            self.pages.addWidget(page)
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.models_page.chat_requested.connect(self.open_chat_with)
        self.models_page.compare_requested.connect(lambda _paths: self.open_page("Compare"))
        self.models_page.compare_requested.connect(self.compare_page.measure_files)
        self.compare_page.quant_made.connect(self.refresh_library)
        self.models_page.refresh_requested.connect(self.refresh_library)
        self.models_page.folders_changed.connect(self._on_folders_changed)
        self.models_page.hidden_changed.connect(self._on_hidden_changed)
        self.chat_page.models.defaults_saved.connect(self._save_settings)
        self.models_page.message.connect(self.statusBar().showMessage)

        pane = QWidget(objectName="sidebarPane")
        pane_layout = QVBoxLayout(pane)
        pane_layout.setContentsMargins(0, 0, 0, 0)
        pane_layout.addWidget(QLabel("Hearth", objectName="brand"))
        pane_layout.addWidget(self.sidebar)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(pane)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self._build_banner())
        right.addWidget(self.pages, 1)
        layout.addLayout(right, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Ready")
        self.downloads_panel = DownloadsPanel(self.downloads)
        self.downloads_dock = QDockWidget("Downloads", self)
        self.downloads_dock.setObjectName("downloads")
        self.downloads_dock.setWidget(self.downloads_panel)
        self.downloads_dock.setFeatures(QDockWidget.DockWidgetClosable)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.downloads_dock)
        self.downloads_dock.hide()
        self.downloads_button = QPushButton("Downloads")
        self.downloads_button.setObjectName("small")
        self.downloads_button.clicked.connect(self.toggle_downloads)
        self.statusBar().addPermanentWidget(self.downloads_button)
        if self.downloads.restore_unfinished():
            self.downloads_dock.show()
        self.server_panel = ServerPanel(self.session, settings)
        self.server_dock = QDockWidget("Local API server", self)
        self.server_dock.setObjectName("server")
        self.server_dock.setWidget(self.server_panel)
        self.server_dock.setFeatures(QDockWidget.DockWidgetClosable)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.server_dock)
        self.server_dock.hide()
        self.server_button = QPushButton("API server: off")
        self.server_button.setObjectName("small")
        self.server_button.clicked.connect(self.toggle_server)
        self.server_panel.serving_changed.connect(self._on_serving)
        self.statusBar().addPermanentWidget(self.server_button)

        if settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
        self.sidebar.setCurrentRow(PAGES.index("Chat"))
        self.refresh_library()
        notices = [settings.notice, *self.stores.notices]  # set aside, or cannot be saved
        if any(notices):
            self.show_error(" ".join(n for n in notices if n))

    def open_page(self, name: str) -> None:
        self.sidebar.setCurrentRow(PAGES.index(name))

    @Slot()
    def refresh_library(self) -> None:
        paths, settings = self.paths, replace(self.settings)
        self.statusBar().showMessage("Scanning local models...")
        run_task(
            lambda: library.list_for_user(paths, settings), self._on_library, self.show_error, self
        )

    @Slot()
    def _save_settings(self) -> None:
        try:
            self.settings.save(self.paths.settings_file)
        except SettingsError as exc:
            self.show_error(str(exc))

    @Slot(list)
    def _on_folders_changed(self, folders: list) -> None:
        self.settings.model_folders = list(folders)
        self._save_settings()
        self.refresh_library()

    @Slot(list)
    def _on_hidden_changed(self, hidden: list) -> None:
        self.settings.hidden_models = list(hidden)
        self._save_settings()
        self.refresh_library()

    @Slot(object)
    def _on_library(self, models: list) -> None:
        if self._shut_down:  # a scan that ended while the window closed: nothing to show
            return
        self.library.set_models(models)
        self.statusBar().showMessage(f"{len(models)} local model(s)")

    @Slot()
    def toggle_downloads(self) -> None:
        self.downloads_dock.setVisible(not self.downloads_dock.isVisible())

    @Slot()
    def toggle_server(self) -> None:
        self.server_dock.setVisible(not self.server_dock.isVisible())

    @Slot(bool)
    def _on_serving(self, serving: bool) -> None:
        self.server_button.setText("API server: on" if serving else "API server: off")

    @Slot(str, str)
    def _on_download_state(self, _key: str, state: str) -> None:
        if state in ("queued", "downloading"):
            self.downloads_dock.show()
        model = self.downloads.model
        active = sum(
            model.value(key, Role.State) in ("queued", "downloading", "verifying")
            for key in model.keys()
        )
        self.downloads_button.setText(f"Downloads ({active})" if active else "Downloads")

    @Slot(str)
    def open_chat_with(self, path: str) -> None:
        self.open_page("Chat")
        self.chat_page.select_model(path)

    def _build_banner(self) -> QWidget:
        self.banner = QWidget()
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(12, 8, 12, 0)
        self.banner_text = QLabel(objectName="error", wordWrap=True)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self.banner.hide)
        row.addWidget(self.banner_text, 1)
        row.addWidget(dismiss)
        self.banner.hide()
        return self.banner

    @Slot(str)
    def show_error(self, message: str) -> None:
        """Show a problem in the window; it stays until dismissed. Nothing is lost."""
        log.warning("Shown to the user: %s", message)
        self.banner_text.setText(message)
        self.banner.show()

    def shutdown(self) -> None:
        """Save window state and stop the inference thread. Safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.chat_page.save_settings()
        self.server_panel.shutdown()
        self.session.shutdown()
        self.compare_page.shutdown()
        self.downloads.shutdown()
        QThreadPool.globalInstance().waitForDone(10_000)
        self.chat_page.finish_interrupted_answer()
        try:
            self.settings.save(self.paths.settings_file)
        except SettingsError as exc:  # a read-only or full disk: said in the log, not a crash
            log.warning("Settings not saved at quit: %s", exc)
        self.stores.close()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)
