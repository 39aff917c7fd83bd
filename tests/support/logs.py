"""Hearth's real log set-up for a test, undone afterwards so the next test starts clean."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.core.common.logs import setup_logging


@contextmanager
def hearth_logging(log_file: Path) -> Iterator[Path]:
    """The rotating log file with its redaction filter, as the app sets it up; on exit the
    handlers are closed and removed and logging may be set up again."""
    setup_logging(log_file)
    try:
        yield log_file
    finally:
        root = logging.getLogger("hearth")
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        root._hearth_configured = None
