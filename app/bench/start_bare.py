"""The bare side of ``hearth bench start``: an empty PySide6 window of the studio's size.

Run as ``python -m app.bench.start_bare WIDTH HEIGHT``; it imports nothing of Hearth but the
probe, so it is the floor a Qt window costs on this machine.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QWidget

from app.ui.start_probe import FirstPaint


def main(argv: list[str]) -> int:
    width, height = (int(a) for a in argv[:2])
    app = QApplication(sys.argv[:1])
    window = QWidget()
    window.resize(width, height)
    FirstPaint(app, window)
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
