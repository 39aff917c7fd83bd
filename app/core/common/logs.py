"""Logging: one logger per area under ``hearth.*``, a rotating file in the log folder."""

from __future__ import annotations

import logging
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


class HeldForFile(logging.Handler):
    """Stands in for the log file until ``attach_log_file``: it keeps the records, and the
    file gets them, in order, when it is attached, when an error is logged, or at exit
    (``logging.shutdown`` closes the handlers), so nothing logged before the studio's first
    paint is lost."""

    LIMIT = 10_000  # a start logs a handful; a flood before the paint keeps its beginning

    def __init__(self, log_file: Path) -> None:
        super().__init__(logging.DEBUG)
        self.log_file = log_file
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.LIMIT:
            self.records.append(record)
        if record.levelno >= logging.ERROR:
            attach_log_file()

    def open_file(self) -> logging.Handler:
        """The log file's handler, with what was held written into the file."""
        to_file = _dress(_file_handler(self.log_file))
        records, self.records = self.records, []
        for record in records:
            to_file.handle(record)
        return to_file

    def close(self) -> None:
        if self in logging.getLogger("hearth").handlers:
            attach_log_file()
        elif self.records:  # set aside by a new set-up: what it held still goes to its file
            self.open_file().close()
        super().close()


def redact(text: str) -> str:
    """``text`` with anything shaped like a Hub token or an API key replaced."""
    return _SECRET.sub("[secret]", text)


def setup_logging(
    log_file: Path, *, stderr_level: int = logging.WARNING, file_later: bool = False
) -> None:
    """Route ``hearth.*`` (and llama.cpp, through ``hearth.llama``) to a rotating file and stderr.

    ``file_later``: the file is opened by ``attach_log_file`` (the studio: after its first
    paint); until then its records are held (``HeldForFile``)."""
    root = logging.getLogger("hearth")
    if getattr(root, "_hearth_configured", None) == str(log_file):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handlers = [HeldForFile(log_file) if file_later else _file_handler(log_file)]
    if sys.stderr is not None:  # a windowed program on Windows has no stderr
        to_err = logging.StreamHandler()
        to_err.setLevel(stderr_level)
        handlers.append(to_err)
    for handler in handlers:
        _dress(handler)
        root.addHandler(handler)
    root._hearth_configured = str(log_file)  # type: ignore[attr-defined]


def attach_log_file() -> None:
    """Open the log file that ``setup_logging(..., file_later=True)`` held back, and write
    what was logged until now into it; without a held file, nothing."""
    root = logging.getLogger("hearth")
    for handler in list(root.handlers):
        if isinstance(handler, HeldForFile):
            handler.acquire()  # the lock records are held under: none slips in meanwhile
            try:
                if handler in root.handlers:  # not attached by another thread meanwhile
                    # In its place, not removed: logging may be handing a record to the
                    # handlers (an error attaches the file), and the next one (stderr) must
                    # still get it.
                    root.handlers[root.handlers.index(handler)] = handler.open_file()
            finally:
                handler.release()
            return


def _file_handler(log_file: Path) -> logging.Handler:
    from app.core.common.log_file import QuietFileHandler

    to_file = QuietFileHandler(log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    to_file.setLevel(logging.DEBUG)
    return to_file


def _dress(handler: logging.Handler) -> logging.Handler:
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactSecrets())
    return handler
