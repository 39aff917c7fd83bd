"""A studio process for kill tests: opens the real window, asks for a long answer, and prints
each streamed chunk of tokens (as JSON, one per line) after Hearth has handled it.

Run: python -m tests.support.chat_child  (HEARTH_HOME must hold the starter model)
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.common.paths import default_paths  # noqa: E402
from app.core.config.sampling import Sampling
from app.core.config.settings import Settings  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402


def main() -> None:
    app = QApplication([])
    paths = default_paths().ensure()
    window = MainWindow(
        paths, Settings(sampling=Sampling(max_tokens=2000, temperature=0.8, seed=3))
    )
    page = window.chat_page

    def ask(_model) -> None:
        page.input.setPlainText("Write a very long story about a dragon and a lighthouse.")
        page.send()
        print(json.dumps({"chat": page.chat_id}), flush=True)

    def report(text: str) -> None:  # connected after the page's own handler: runs after it
        print(json.dumps({"token": text}), flush=True)

    window.session.loaded.connect(ask)
    window.chat_page.answer_token.connect(report)
    window.chat_page.answer_finished.connect(app.quit)
    window.show()
    app.exec()
    window.shutdown()


if __name__ == "__main__":
    sys.exit(main())
