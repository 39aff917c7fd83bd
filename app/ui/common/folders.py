""" "Open containing folder": the file manager, at the folder that holds a model file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

OPEN_FOLDER = "Open containing folder"


def open_containing_folder(path: str | Path) -> bool:
    """Show the folder of ``path`` in the desktop's file manager; False when none opened it."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))
