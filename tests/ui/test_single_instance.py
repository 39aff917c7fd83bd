"""Two studios started on the same data folder, as real processes: the second brings the first
one's window forward, says "Hearth is already running" and exits; after the first is killed, a
new start opens normally (the lock of a dead process is taken over)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

# Says "up" once the window is open: its shell painted, its services opened and Chat built
# (they open on the turn after the first paint; a request to come forward waits for them).
STAY_UP = (
    "import sys\n"
    "from PySide6.QtCore import QTimer\n"
    "from PySide6.QtWidgets import QApplication\n"
    "from app import cli\n"
    "from app.ui.main_window import MainWindow\n"
    "app = QApplication(sys.argv[:1])\n"
    "def watch():\n"
    "    for window in app.topLevelWidgets():\n"
    "        if isinstance(window, MainWindow):\n"
    "            window.opened.connect(lambda: print('up', flush=True))\n"
    "QTimer.singleShot(0, watch)\n"
    "sys.exit(cli.main([]))\n"
)
START = "import sys\nfrom app import cli\nsys.exit(cli.main([]))\n"  # hearth, no command


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def _start(hearth_home) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", STAY_UP], stdout=subprocess.PIPE, text=True, env=_env()
    )


def test_a_second_start_brings_the_first_forward_and_exits(hearth_home):
    first = _start(hearth_home)
    try:
        assert first.stdout.readline().strip() == "up"  # its window is shown and open
        second = subprocess.run(
            [sys.executable, "-c", START],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
        )
        assert second.returncode == 0
        assert "Hearth is already running" in second.stderr
        assert "brought forward" in second.stderr
        assert first.poll() is None  # the first goes on
    finally:
        first.send_signal(signal.SIGKILL)  # as a crash would leave it: lock file and socket
        first.wait(60)
        first.stdout.close()
    log = hearth_home.log_file.read_text()
    assert "Window brought forward for a second start" in log

    shown = subprocess.run(
        [sys.executable, "-m", "tests.support.studio_start"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert json.loads(shown.stdout.splitlines()[-1])["shown"] is True  # not locked out
    assert "already running" not in shown.stderr
