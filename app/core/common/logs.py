"""Logging: one logger per area under ``hearth.*``, a rotating file in the log folder."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import re
import sys
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SECRET = re.compile(r"(hf_[A-Za-z0-9]{8,}|Bearer\s+\S+|sk-[A-Za-z0-9-]{8,})")


class RedactSecrets(logging.Filter):
    """Never let a Hub token or an API key reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:  # tracebacks carry values too
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


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


def redact(text: str) -> str:
    """``text`` with anything shaped like a Hub token or an API key replaced."""
    return _SECRET.sub("[secret]", text)


def setup_logging(log_file: Path, *, stderr_level: int = logging.WARNING) -> None:
    """Route ``hearth.*`` (and llama.cpp, through ``hearth.llama``) to a rotating file and stderr."""
    root = logging.getLogger("hearth")
    if getattr(root, "_hearth_configured", None) == str(log_file):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    log_file.parent.mkdir(parents=True, exist_ok=True)
    to_file = QuietFileHandler(log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    to_file.setLevel(logging.DEBUG)
    handlers: list[logging.Handler] = [to_file]
    if sys.stderr is not None:  # a windowed program on Windows has no stderr
        to_err = logging.StreamHandler()
        to_err.setLevel(stderr_level)
        handlers.append(to_err)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    root._hearth_configured = str(log_file)  # type: ignore[attr-defined]
