"""README screenshots taken by the GUI tests, written only when asked for.

``HEARTH_SCREENSHOTS=resources/screenshots .venv/bin/python -m pytest tests/ui`` refreshes the
README's images; an ordinary test run grabs the widget (it must render) but writes nothing, so
running the tests never changes tracked files.
"""

from __future__ import annotations

import os
from pathlib import Path


def screenshot(widget, name: str) -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()  # let pending layout requests settle before the grab
    image = widget.grab()
    assert not image.isNull() and image.width() > 100 and image.height() > 100
    folder = os.environ.get("HEARTH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        assert image.save(str(Path(folder) / name))
