"""Start the real studio (``hearth`` with no command: ``app.cli.main``) offscreen, report what
the window shows once it is up, and close it, for the startup fault tests.

Run: python -m tests.support.studio_start [--file-size-limit BYTES]
Prints one JSON line: {"shown", "banner", "banner_visible", "chats", "transcript"}. With
``--file-size-limit`` no file can grow past BYTES (``RLIMIT_FSIZE``, SIGXFSZ ignored so that a
write fails with EFBIG as on a full disk, instead of killing the process).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app import cli  # noqa: E402


def report() -> None:
    from app.ui.main_window import MainWindow

    app = QApplication.instance()
    windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    if not windows:
        print(json.dumps({"shown": False}), flush=True)
        app.quit()
        return
    window = windows[0]
    page = window.chat_page
    print(
        json.dumps(
            {
                "shown": window.isVisible(),
                "banner": window.banner_text.text(),
                "banner_visible": window.banner.isVisible(),
                "chats": page.chats.rowCount(),
                "open_chat": page.chat_id,
                "transcript": page.transcript.toPlainText(),
            }
        ),
        flush=True,
    )
    window.close()
    app.quit()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--file-size-limit"]:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = int(argv[1])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    app = QApplication(sys.argv[:1])
    QTimer.singleShot(0, report)  # runs once the studio's event loop has started
    code = cli.main([])
    del app
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
