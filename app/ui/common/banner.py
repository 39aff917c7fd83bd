"""A problem said in the window's banner, from any widget inside the window.

The pages do not import the main window (it imports them); they reach its banner through the
widget they are in, and the type check sees the one method they use.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from PySide6.QtWidgets import QWidget

log = logging.getLogger("hearth.ui.banner")


@runtime_checkable
class ShowsErrors(Protocol):
    """A window with an error banner (``MainWindow``)."""

    def show_error(self, message: str) -> None: ...


def show_error(widget: QWidget, message: str) -> None:
    """Say ``message`` in the banner of the window ``widget`` is in. A widget not (yet) in such a
    window has nowhere to show it: the log keeps it."""
    window = widget.window()
    if isinstance(window, ShowsErrors):
        window.show_error(message)
    else:
        log.warning("Not shown (no window with a banner): %s", message)
