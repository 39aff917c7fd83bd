"""The main window: a sidebar like LM Studio's and one page per area."""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import (
    QApplication,
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
from app.ui.common import tasks
from app.ui.menus import WindowMenus
from app.ui.model_drop import ModelDrop
from app.ui.theme import apply_theme

if TYPE_CHECKING:
    from app.core.stores import Stores
    from app.ui.chat.page import ChatPage
    from app.ui.downloads.manager import DownloadManager
    from app.ui.downloads.panel import DownloadsPanel
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
    """The window. Built alone (tests), it opens its services and builds Chat at once. The
    studio (``run_gui``) passes ``open_later``: the window's shell (menus, sidebar, a Chat
    saying "Loading...") paints first, and the services are opened and Chat built on the
    event loop's next turn (issue 19: the stores and the Chat page were half the start)."""

    # File > Settings changed the comfortable speed: the open quant pickers recommend again
    comfortable_changed = Signal(float)
    opened = Signal()  # the services are open and Chat has replaced its placeholder
    open_failed = Signal(str)  # opening them after the first paint failed: why, in a sentence

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        session: ChatSession | None = None,
        hub_endpoint: str | None = None,
        stores: Stores | None = None,
        services: Services | None = None,
        open_later: Callable[[], Services] | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings
        self.setWindowTitle("Hearth")
        self._shut_down = False
        self.resize(1280, 800)
        # Everything the pages share, built once (by run_gui through ``open_later``, or here
        # for a window alone); ``open`` sets these.
        self._open_services = open_later or (
            lambda: (
                services
                or self._new_services(stores=stores, session=session, hub_endpoint=hub_endpoint)
            )
        )
        self._opening = False
        self._services: Services | None = None
        self._chat_page: ChatPage | None = None
        # The downloads (manager, panel, unfinished ones resumed) are set up after the first
        # paint, or when first asked for: their imports cost ~35 ms of the start.
        self._downloads: DownloadManager | None = None

        self.sidebar = QListWidget(objectName="sidebar")
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFixedWidth(190)
        for name in PAGES:
            item = QListWidgetItem(QIcon(str(resource("icons", f"{_ICONS[name]}.svg"))), name)
            self.sidebar.addItem(item)

        # Only Chat, the page shown first, is built by ``open``; the others on first show.
        # Building all five before the first paint took most of the start (1.7 s against
        # 0.22 s for a bare window, issue 19), and their imports pulled numpy and the
        # measuring code in.
        self.pages = QStackedWidget()
        self._built: dict[str, QWidget] = {}
        for _name in PAGES:
            self.pages.addWidget(QWidget())  # a placeholder until the page is first shown
        self.chat_placeholder = QLabel("Loading...", alignment=Qt.AlignmentFlag.AlignCenter)
        self._place_placeholder("Chat", self.chat_placeholder)
        self.sidebar.currentRowChanged.connect(self._show_page)
        self._settings_writer = tasks.LatestWriter(
            self._write_settings, self, "saving the settings", on_error=self.show_error
        )

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
        self.menus = WindowMenus(self, PAGES)
        self.theme_actions: dict[str, QAction] = self.menus.theme_actions
        self.model_drop = ModelDrop(self)  # a .gguf file dropped on the window joins My Models
        self.setAcceptDrops(True)
        self.downloads_panel: DownloadsPanel | None = None  # built with the downloads
        self.downloads_dock = QDockWidget("Downloads", self)
        self.downloads_dock.setObjectName("downloads")
        self.downloads_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.downloads_dock)
        self.downloads_dock.hide()
        self.downloads_button = QPushButton("Downloads")
        self.downloads_button.setObjectName("small")
        self.downloads_button.clicked.connect(self.toggle_downloads)
        self.statusBar().addPermanentWidget(self.downloads_button)
        self._server_panel = None  # built when first opened: its imports cost ~65 ms of start
        self.server_dock = QDockWidget("Local API server", self)
        self.server_dock.setObjectName("server")
        self.server_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.server_dock)
        self.server_dock.hide()
        # Tabs, not side by side: at 1024 px each got half the width and the server panel
        # scrolled sideways (issue 19). The one asked for comes to the front.
        self.tabifyDockWidget(self.downloads_dock, self.server_dock)
        self.server_button = QPushButton("API server: off")
        self.server_button.setObjectName("small")
        self.server_button.clicked.connect(self.toggle_server)
        self.statusBar().addPermanentWidget(self.server_button)

        if settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
        self.sidebar.setCurrentRow(PAGES.index("Chat"))
        self._scanned = False
        if open_later is None:
            self.open()
        else:  # the shell paints first; the services open on the next turn after it
            self.chat_placeholder.installEventFilter(self)

    @property
    def services(self) -> Services:
        """What the pages share; opened now if the shell has not painted yet."""
        self.open()
        assert self._services is not None, "opening the services failed"
        return self._services

    @property
    def chat_page(self) -> ChatPage:
        """The Chat page; built now (with the services) if the shell has not painted yet."""
        self.open()
        assert self._chat_page is not None, "opening the services failed"
        return self._chat_page

    def _new_services(self, **given) -> Services:
        from app.ui.services import Services

        return Services(self.paths, self.settings, parent=self, **given)

    def open(self) -> None:
        """Open the services and put the Chat page in its placeholder's place. Called once the
        shell has painted (or at once for a window built alone, or earlier when something
        needs them first: a page button, a menu); later calls do nothing."""
        if self._opening:
            return
        self._opening = True
        from app.ui.chat.page import ChatPage

        self._services = services = self._open_services()
        self.stores = services.stores
        self.chat_store = self.stores.chats
        self.library = services.library
        self.session = services.session
        self._hub_endpoint = services.hub_endpoint
        self.library.modelReset.connect(self._on_library)
        services.scan_failed.connect(self.show_error)
        chat_page = ChatPage(
            self.session,
            self.library,
            self.settings,
            self.chat_store,
            connections=services.connections,
        )
        chat_page.models.defaults_saved.connect(self._save_settings)
        chat_page.welcome.page_requested.connect(self.open_page)
        self.model_drop.watch(chat_page.input.viewport())  # not a path typed in the box
        self._chat_page = chat_page
        self._place("Chat", chat_page)
        # The first scan starts after Chat's first paint (or after half a second if the window
        # is not shown): it imports huggingface_hub in its thread, ~40 MiB, and held the GIL
        # while the window was being built.
        chat_page.installEventFilter(self)
        QTimer.singleShot(500, self, self._first_scan)
        notices = [self.settings.notice, *self.stores.notices]  # set aside, or cannot be saved
        if any(notices):
            self.show_error(" ".join(n for n in notices if n))
        self.opened.emit()

    @Slot()
    def _open_after_paint(self) -> None:
        if self._shut_down:  # closed as soon as it painted: nothing to open (or to close)
            return
        try:
            self.open()
        except Exception as exc:  # noqa: BLE001 - said in a window, never an abort without a word
            log.exception("The window could not be built")
            self.open_failed.emit(str(exc))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            if watched is self.chat_placeholder:
                self.chat_placeholder.removeEventFilter(self)
                QTimer.singleShot(0, self, self._open_after_paint)
            elif self._chat_page is not None and watched is self._chat_page:
                watched.removeEventFilter(self)
                QTimer.singleShot(0, self, self._first_scan)
        return super().eventFilter(watched, event)

    @Slot()
    def _first_scan(self) -> None:
        if not self._scanned and not self._shut_down:
            self._scanned = True
            self.refresh_library()
            self.downloads  # noqa: B018 - set up now: unfinished downloads resume
            if self.settings.api_start_with_studio:  # File > Settings: "Start the API server"
                self.server_panel.toggle.setChecked(True)

    @property
    def downloads(self) -> DownloadManager:
        if self._downloads is None:
            from app.ui.downloads.panel import DownloadsPanel

            self._downloads = self.services.downloads  # built there: it rescans the library
            self._downloads.state_changed.connect(self._on_download_state)
            self.downloads_panel = DownloadsPanel(self._downloads)
            self.downloads_panel.chat_requested.connect(self.open_chat_with)
            self.downloads_panel.show_requested.connect(self.show_in_my_models)
            self.downloads_dock.setWidget(self.downloads_panel)
            self._downloads.restored.connect(self._on_downloads_restored)
            self._downloads.restore_unfinished()
        return self._downloads

    @Slot(list)
    def _on_downloads_restored(self, unfinished: list) -> None:
        if unfinished:  # downloads to resume: show where they are
            self.downloads_dock.show()

    def open_page(self, name: str) -> None:
        self.open()
        self.sidebar.setCurrentRow(PAGES.index(name))

    @property
    def discover_page(self):
        return self._page("Discover")

    @property
    def models_page(self):
        return self._page("My Models")

    @property
    def compare_page(self):
        return self._page("Compare")

    @property
    def hardware_page(self):
        return self._page("Hardware")

    @Slot(int)
    def _show_page(self, row: int) -> None:
        if self._services is not None or PAGES[row] != "Chat":  # Chat comes with the services
            self._page(PAGES[row])
        self.pages.setCurrentIndex(row)

    def _page(self, name: str) -> QWidget:
        """The page called ``name``, built the first time it is asked for."""
        self.open()
        if name not in self._built:
            self._place(name, self._build_page(name))
        return self._built[name]

    def _place(self, name: str, page: QWidget) -> None:
        self._place_placeholder(name, page)
        self._built[name] = page

    def _place_placeholder(self, name: str, widget: QWidget) -> None:
        """Put ``widget`` in page ``name``'s slot of the stack, instead of what was there."""
        index = PAGES.index(name)
        placeholder = self.pages.widget(index)
        current = self.pages.currentIndex()
        widget.setObjectName("page")
        self.pages.insertWidget(index, widget)
        if placeholder is not None:  # None only for an index past the stack's end
            self.pages.removeWidget(placeholder)
            placeholder.deleteLater()
        self.pages.setCurrentIndex(current)

    def _build_page(self, name: str) -> QWidget:
        machine, connections = self.services.machine, self.services.connections
        if name == "Discover":
            from app.ui.discover.page import DiscoverPage

            discover = DiscoverPage(
                endpoint=self._hub_endpoint,
                downloads=self.downloads,
                models_dir=self.paths.models_dir,
                machine_info=machine,
                library=self.library,
                comfortable_tok_s=self.settings.comfortable_tok_s,
            )
            discover.chat_requested.connect(self.open_chat_with)
            self.comfortable_changed.connect(discover.model_page.picker.set_comfortable)
            return discover
        if name == "My Models":
            from app.ui.my_models.page import ModelsPage

            models = ModelsPage(
                self.library,
                folders=self.settings.model_folders,
                hidden=self.settings.hidden_models,
                measure_store=self.stores.measurements,
                machine_info=machine,
                comfortable_tok_s=self.settings.comfortable_tok_s,
            )
            self.comfortable_changed.connect(models.picker.set_comfortable)
            models.chat_requested.connect(self.open_chat_with)
            models.compare_requested.connect(self._compare_files)
            models.refresh_requested.connect(self.refresh_library)
            models.folders_changed.connect(self._on_folders_changed)
            models.hidden_changed.connect(self._on_hidden_changed)
            models.message.connect(self.statusBar().showMessage)
            return models
        if name == "Compare":
            from app.ui.compare.page import ComparePage

            compare = ComparePage(
                self.library,
                self.paths,
                store=self.stores.measurements,
                arena_store=self.stores.arena,
                machine_info=machine,
                connections=connections,
                sessions=self.services.new_session,
            )
            compare.quant_made.connect(self.refresh_library)
            return compare
        from app.ui.hardware.page import HardwarePage

        return HardwarePage(self.paths, probe=machine.refresh)

    @Slot(list)
    def _compare_files(self, paths: list) -> None:
        self.open_page("Compare")
        self.compare_page.measure_files(paths)

    @Slot()
    def refresh_library(self) -> None:
        if self._shut_down:
            return
        self.statusBar().showMessage("Scanning local models...")
        self.services.refresh_library()

    @Slot()
    def _save_settings(self) -> None:
        """Save a copy of the settings on the pool (an fsync on a slow disk would stall the
        window); a failure shows in the banner."""
        self._settings_writer.write(copy.deepcopy(self.settings))

    def _write_settings(self, settings: Settings) -> None:
        settings.save(self.paths.settings_file)

    @Slot(list)
    def _on_folders_changed(self, folders: list) -> None:
        self.settings.model_folders = list(folders)
        if "My Models" in self._built:
            self.models_page.folders = list(folders)
        self._save_settings()
        self.refresh_library()

    @Slot(list)
    def _on_hidden_changed(self, hidden: list) -> None:
        self.settings.hidden_models = list(hidden)
        self._save_settings()
        self.refresh_library()

    @Slot()
    def _on_library(self) -> None:
        if self._shut_down:  # a scan that ended while the window closed: nothing to show
            return
        count = self.library.rowCount()
        self.statusBar().showMessage(f"{count} local model{'' if count == 1 else 's'}")

    @Slot()
    def toggle_downloads(self) -> None:
        self.downloads  # noqa: B018 - built on first opening
        _toggle(self.downloads_dock)

    @property
    def server_panel(self):
        if self._server_panel is None:
            from app.ui.server.panel import ServerPanel

            self.open()
            self._server_panel = ServerPanel(
                self.session, self.settings, port=self.settings.api_port
            )
            self._server_panel.serving_changed.connect(self._on_serving)
            self.server_dock.setWidget(self._server_panel)
        return self._server_panel

    @Slot()
    def toggle_server(self) -> None:
        self.server_panel  # noqa: B018 - built on first opening
        _toggle(self.server_dock)

    @Slot(bool)
    def _on_serving(self, serving: bool) -> None:
        self.server_button.setText("API server: on" if serving else "API server: off")

    @Slot(str, str)
    def _on_download_state(self, _key: str, state: str) -> None:
        if state in ("queued", "downloading"):
            self.downloads_dock.show()
            self.downloads_dock.raise_()
        from app.ui.downloads.model import Role

        model = self.downloads.model
        active = sum(
            model.value(key, Role.State) in ("queued", "downloading", "verifying")
            for key in model.keys()
        )
        self.downloads_button.setText(f"Downloads ({active})" if active else "Downloads")

    @Slot(str)
    def show_in_my_models(self, path: str) -> None:
        self.open_page("My Models")
        self.models_page.select(path)

    @Slot(str)
    def open_chat_with(self, path: str) -> None:
        self.open_page("Chat")
        self.chat_page.models.select_model(path)

    # -- what the menus and shortcuts do (app/ui/menus.py) --------------------------------
    @Slot()
    def new_chat(self) -> None:
        self.open_page("Chat")
        self.chat_page.new_chat()

    @Slot()
    def search_chats(self) -> None:
        self.open_page("Chat")
        self.chat_page.sidebar.show()  # hidden beside Chat's settings on a narrow window
        self.chat_page.sidebar.search.setFocus()
        self.chat_page.sidebar.search.selectAll()

    @Slot()
    def focus_message_box(self) -> None:
        self.open_page("Chat")
        self.chat_page.input.setFocus()

    @Slot()
    def stop_answer(self) -> None:
        if self._chat_page is not None:  # nothing answers before Chat is built
            self._chat_page.stop_answer()

    @Slot()
    def choose_model_file(self) -> None:
        self.open()
        self.model_drop.choose()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.model_drop.drag_entered(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.open()
        self.model_drop.dropped(event)

    @Slot()
    def show_about(self):
        from app.ui.about import AboutDialog

        shown = self.findChild(AboutDialog)
        if shown is not None and shown.isVisible():  # asked for again: the one open comes up
            shown.raise_()
            return shown
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    @Slot()
    def open_settings(self):
        """File > Settings: the app-wide choices; OK saves them and applies what changed."""
        from app.ui.settings_dialog import SettingsDialog

        shown = self.findChild(SettingsDialog)
        if shown is not None and shown.isVisible():
            shown.raise_()
            return shown
        dialog = SettingsDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._on_settings_saved)
        dialog.open()
        return dialog

    @Slot(list)
    def _on_settings_saved(self, changed: list) -> None:
        if "theme" in changed:
            self.set_theme(self.settings.theme)
        if "model_folders" in changed:
            self._on_folders_changed(self.settings.model_folders)
        if "comfortable_tok_s" in changed:
            self.comfortable_changed.emit(self.settings.comfortable_tok_s)
        if "api_port" in changed and self._server_panel is not None:
            if self._server_panel.server is None:
                self._server_panel.port_box.setValue(self.settings.api_port)
            else:
                self.statusBar().showMessage("The new port is used when the API server restarts.")
        self._save_settings()

    def set_theme(self, choice: str) -> None:
        """Show the theme ``choice`` ("system", "light" or "dark") now and keep it."""
        self.settings.theme = choice
        self.theme_actions[choice].setChecked(True)
        app = QApplication.instance()
        if isinstance(app, QApplication):  # a GUI application: the one kind with a palette
            apply_theme(app, choice)
        self._save_settings()

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
        """Save window state and stop the inference thread. Safe to call twice. Every wait
        (threads, jobs, downloads, the chats' last writes) shares one budget: the quit is
        bounded by ``tasks.QUIT_WAIT_MS`` however many parts hang."""
        if self._shut_down:
            return
        self._shut_down = True
        with tasks.quitting():
            self._shutdown()

    def _shutdown(self) -> None:
        self.settings.window_geometry = self.saveGeometry().toBase64().toStdString()
        if self._chat_page is None:  # closed before the services opened, or they failed to
            self._shutdown_unopened()
            return
        self.chat_page.save_settings()
        if self._server_panel is not None:
            self._server_panel.shutdown()
        self.session.shutdown()
        if "Compare" in self._built:
            self.compare_page.shutdown()
        if self._downloads is not None:
            self._downloads.shutdown()
        tasks.shutdown()  # bounded: a hung job is left behind and named in the log
        self.chat_page.finish_interrupted_answer()
        try:  # after any save still on the pool, never before it
            self._settings_writer.write_now(self.settings)
        except SettingsError as exc:  # a read-only or full disk: said in the log, not a crash
            log.warning("Settings not saved at quit: %s", exc)
        # What is left of the budget for the chats still being written (the rest is journaled)
        unsaved = self.stores.close(tasks.wait_ms() / 1000)
        if unsaved:
            log.error("At quit: %s", unsaved)
            print(f"Hearth: {unsaved}", file=sys.stderr)

    def _shutdown_unopened(self) -> None:
        """Quit before Chat was built (closed at once, or opening failed): what was opened is
        closed, and the settings (the window's size) are kept."""
        if self._services is not None:
            self._services.session.shutdown()
        tasks.shutdown()
        try:
            self._settings_writer.write_now(self.settings)
        except SettingsError as exc:
            log.warning("Settings not saved at quit: %s", exc)
        if self._services is not None:
            self._services.stores.close(tasks.wait_ms() / 1000)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)


def _toggle(dock: QDockWidget) -> None:
    """Show ``dock`` in front (behind the other dock's tab counts as hidden), else close it."""
    if dock.isVisible():
        dock.hide()
    else:
        dock.show()
        dock.raise_()
