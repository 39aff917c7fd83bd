"""Starting the studio: the QApplication, error hooks, Qt's log, the stylesheet, the window."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QObject, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.core.common.logs import attach_log_file, redact
from app.core.common.paths import Paths
from app.core.common.resources import resource
from app.core.config.settings import Settings
from app.ui import start_probe
from app.ui.common import tasks
from app.ui.theme import apply_theme

if TYPE_CHECKING:
    from app.ui.services import Services

log = logging.getLogger("hearth.ui")
qt_log = logging.getLogger("hearth.qt")

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


class ErrorReporter(QObject):
    """Anything unexpected, from any thread, ends up as one visible message in the window."""

    error = Signal(str)

    def install(self) -> None:
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def _excepthook(self, kind, value, trace) -> None:
        log.error("Unexpected error", exc_info=(kind, value, trace))
        self.error.emit(f"Unexpected error: {redact(str(value))}. Details are in the log file.")

    def _thread_excepthook(self, args) -> None:
        self._excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def _qt_message(mode, _context, message) -> None:
    qt_log.log(_QT_LEVELS.get(mode, logging.INFO), "%s", message)


def apply_style(app: QApplication, theme: str = "system", *, fusion: bool = True) -> str:
    """Name, icon, Fusion and the theme (``Settings.theme``); returns "light" or "dark".
    ``fusion=False``: the application has Fusion already (``new_application``)."""
    app.setApplicationName("Hearth")
    app.setOrganizationName("Hearth")
    app.setWindowIcon(QIcon(str(resource("icons", "hearth.svg"))))
    if fusion:
        app.setStyle("Fusion")
    return apply_theme(app, theme)


def new_application() -> QApplication:
    """The studio's application, in the Fusion style from its start: ``setStyle`` returns
    the new QStyle, and wrapping it makes PySide6 build QStyle's eleven enums, ~4 ms of the
    start before the first paint (issue 19). Qt reads ``-style`` as setStyle would."""
    return QApplication([*sys.argv[:1], "-style", "Fusion"])


def run_gui(paths: Paths, *, self_test: bool = False, screenshot: str | None = None) -> int:
    from app.ui.main_window import MainWindow
    from app.ui.single_instance import SingleInstance

    qInstallMessageHandler(_qt_message)
    # The one application there is (a QApplication: tests make theirs with pytest-qt).
    existing = cast(QApplication | None, QApplication.instance())
    app = existing or new_application()
    settings = Settings.load(paths.settings_file)
    apply_style(app, settings.theme, fusion=existing is not None)
    instance = SingleInstance(paths.data_dir)  # one studio per data folder: its chats
    if not instance.claim():
        return instance.hand_over()  # the running studio's window comes forward
    reporter = ErrorReporter()
    reporter.install()

    def open_services() -> Services:
        """What the pages share, built once: stores, connections, the machine's report, the
        library, the model host, the downloads. Opened after the window's first paint (they
        and the Chat page were half the start, issue 19), so after the claim above: the chats,
        the stores and the starter model are written only by the studio holding the folder."""
        from app.core.library import starter
        from app.ui.services import Services

        attach_log_file()  # what was logged until now is written there too
        instance.listen()  # a later start can bring this window forward from now on
        starter.install_from_bundle(paths.models_dir)
        return Services(paths, settings)

    failed: list[str] = []

    def cannot_start(reason: str) -> None:
        failed.append(reason)
        attach_log_file()  # the message names the file: what led here is in it
        from PySide6.QtWidgets import QMessageBox  # a rare box: not on the start's path

        QMessageBox.critical(
            None,
            "Hearth could not start",
            f"Hearth could not open its window: {reason}\n\nDetails are in the "
            f"log file {paths.log_file}.",
        )
        app.exit(1)

    try:
        window = MainWindow(paths, settings, open_later=open_services)
    except Exception as exc:  # noqa: BLE001 - said in a window, never an abort without a word
        log.exception("The window could not be built")
        cannot_start(str(exc))
        return 1
    window.open_failed.connect(cannot_start)
    reporter.error.connect(window.show_error)
    instance.show_window(window)
    if start_probe.wanted():  # hearth bench start: report the first paint, then quit
        start_probe.FirstPaint(app, window)
    window.show()
    test = None
    if self_test:
        from app.ui.self_test import SelfTest

        test = SelfTest(window, screenshot, timeout_s=120)
    code = app.exec()
    window.shutdown()
    instance.release()
    result = 1 if failed else test.result if test else code
    if tasks.left_running():
        # Qt waits with no limit for the pools' threads as the process ends: a hung job would
        # keep Hearth running with no window (measured: a 6 s job held the exit 6 s). What was
        # left is named in the log already; end now.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(result)
    return result
