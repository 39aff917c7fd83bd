"""The rotating log file's handler, apart from ``logs`` so that ``logging.handlers`` (with
the socket, pickle and queue modules it brings, ~7 ms) is imported only when the file is
opened: after the studio's first paint (issue 19), at once for a terminal command."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys


class QuietFileHandler(logging.handlers.RotatingFileHandler):
    """The log file, failing quietly: when a record cannot be written (a full disk, a folder
    gone read-only) it says so once on stderr and stops writing, instead of printing a
    "--- Logging error ---" traceback for every record (3.3 MB of them for one ``hearth run``
    on a full disk)."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if self.failed:
            return
        self.failed = True
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or error.__class__.__name__
        if sys.stderr is not None:
            with contextlib.suppress(Exception):
                sys.stderr.write(
                    f"Hearth cannot write its log file {self.baseFilename} "
                    f"({reason}); it logs nothing more there until it restarts.\n"
                )
        with contextlib.suppress(Exception):
            self.close()
