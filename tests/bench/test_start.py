"""hearth bench start, and what the studio's start leaves out (issue 19)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from app.core.config.settings import Settings
from app.ui.main_window import PAGES, MainWindow
from app.ui.services import Services

HEARTH = str(Path(sys.executable).with_name("hearth"))
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def test_bench_start_prints_both_sides(hearth_home):
    result = subprocess.run(
        [HEARTH, "bench", "start", "--json", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for key in ("start_s_app", "start_s_bare", "rss_mib_app", "rss_mib_bare"):
        assert 0 < figures[key] < 120, key
    assert figures["ratio"] == round(figures["start_s_app"] / figures["start_s_bare"], 2)
    low, high = figures["ratio_spread"]  # one round: its own ratio, before the medians' rounding
    assert 0 < low == high
    assert 0 < figures["cpu_s_app"] < 120 and 0 < figures["cpu_s_bare"] < 120
    assert figures["cpu_ratio"] == round(figures["cpu_s_app"] / figures["cpu_s_bare"], 2)
    # Both windows are the same size, the studio's.
    assert figures["window"][0] >= 640 and figures["window"][1] >= 400


HEAVY = (
    "llama_cpp",
    "numpy",
    "jinja2",
    "gguf",
    "huggingface_hub",
    "markdown_it",
    "pygments",
    "app.core.measure.measurement",
    "app.ui.compare.page",
    "app.ui.discover.page",
    "app.ui.server.panel",
    "app.cli.cmd_compare",
    "app.core.gguf.check",
    "http.client",
    "ssl",
)
# Opened on the event loop's turn after the first paint: the stores (SQLite, the chats), the
# Chat page, the services, the CLI's subcommands and child processes.
AFTER_PAINT = (
    "logging.handlers",  # the log file (~7 ms with socket, pickle and queue)
    "app.core.common.log_file",
    "PySide6.QtNetwork",  # the one-studio socket listens after the paint
    "app.ui.services",
    "app.core.stores",
    "sqlite3",
    "app.ui.chat.page",
    "app.core.library.starter",
    "app.core.inference.host.process",
)
# PySide6 builds a Qt class, with all its enums, when it is first used: nothing of these is on
# the screen at the first paint. QStyle came with setStyle's answer (~4 ms), QMessageBox and
# QFileDialog with imports; QWizard stands for every class (an application-wide event filter
# had PySide6 load them all, ~25 ms).
NOT_BUILT = ("QStyle", "QMessageBox", "QFileDialog", "QWizard", "QTableView", "QComboBox")
CHILD = f"""
import sys
from app.cli import main
code = main([])
print("loaded:", ",".join(name for name in {HEAVY!r} if name in sys.modules))
raise SystemExit(code)
"""


def test_the_studio_starts_without_the_engine_or_the_other_pages(hearth_home):
    """Until the first paint, nothing of llama.cpp, numpy, the measuring code, the pages not
    shown, the GGUF check or the HTTP client is imported: they made the start 7.6 times slower
    than a bare window. Nor are the services and the Chat page: the window's shell paints
    first (issue 19)."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "HEARTH_START_PROBE": "1"},
    )
    assert result.returncode == 0, result.stderr
    first_paint = json.loads(result.stdout.splitlines()[0])
    assert first_paint["rss_mib"] > 0
    assert result.stdout.splitlines()[-1].strip() == "loaded:"
    at_paint = set(first_paint["modules"])
    assert "PySide6.QtWidgets" in at_paint and "app.ui.main_window" in at_paint
    assert [name for name in (*HEAVY, *AFTER_PAINT) if name in at_paint] == []
    built = set(first_paint["qt_classes"])
    assert {"QMainWindow", "QListWidget"} <= built
    assert [name for name in NOT_BUILT if name in built] == []


class FirstPaintSeen(QObject):
    """Adds "painted" to ``order`` when a widget of ``window`` first paints."""

    def __init__(self, window: QWidget, order: list[str]) -> None:
        super().__init__(window)
        self.window, self.order = window, order
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if (
            event.type() == QEvent.Type.Paint
            and isinstance(watched, QWidget)
            and watched.window() is self.window
        ):
            QApplication.instance().removeEventFilter(self)
            self.order.append("painted")
        return False


def test_the_shell_paints_first_then_the_services_open_and_chat_takes_over(qtbot, hearth_home):
    """As the studio starts (run_gui's ``open_later``): the window paints with Chat saying
    "Loading...", only then are the services opened, and the Chat page takes the
    placeholder's place."""
    settings, order = Settings(), []

    def open_services():
        order.append("services opened")
        return Services(hearth_home, settings)

    window = MainWindow(hearth_home, settings, open_later=open_services)
    qtbot.addWidget(window)
    chat = PAGES.index("Chat")
    assert window.pages.currentIndex() == chat
    assert window.pages.widget(chat).text() == "Loading..."
    FirstPaintSeen(window, order)
    with qtbot.waitSignal(window.opened, timeout=30_000):
        window.show()
    assert order == ["painted", "services opened"]
    assert window.pages.widget(chat) is window.chat_page
    assert window.pages.currentWidget() is window.chat_page
    assert window.chat_page.isVisible()
    window.shutdown()


def test_a_page_button_works_before_the_services_open(qtbot, hearth_home):
    """A click in the sidebar before the shell's first paint is over opens the services then
    and there and shows the page asked for; Chat is built with them."""
    settings = Settings()
    window = MainWindow(hearth_home, settings, open_later=lambda: Services(hearth_home, settings))
    qtbot.addWidget(window)
    assert window._services is None
    window.sidebar.setCurrentRow(PAGES.index("Hardware"))
    assert window.pages.currentWidget() is window.hardware_page
    assert window.pages.widget(PAGES.index("Chat")) is window.chat_page
    window.shutdown()
