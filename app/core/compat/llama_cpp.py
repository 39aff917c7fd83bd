"""llama.cpp's own log, routed into Python logging (``hearth.llama``).

llama-cpp-python's ``verbose=False`` silences llama.cpp by redirecting the process's file
descriptors 1 and 2, which would swallow other threads' output; Hearth keeps ``verbose=True`` and
installs a log callback instead. The last lines are kept so load errors can say what went wrong.
"""

from __future__ import annotations

import collections
import logging
import threading

log = logging.getLogger("hearth.llama")

# ggml_log_level (ggml.h): NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the last)
_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_recent: collections.deque[str] = collections.deque(maxlen=50)
_lock = threading.Lock()
_callback = None  # must stay referenced while llama.cpp may call it
_pending = ""
_pending_level = logging.DEBUG


def _on_log(level: int, text: bytes, _user_data) -> None:
    global _pending, _pending_level
    try:
        message = text.decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - a log callback must never raise into C
        return
    with _lock:
        if level != 5:
            _pending_level = _LEVELS.get(level, logging.DEBUG)
        _pending += message
        if not _pending.endswith("\n"):
            return
        lines, _pending = _pending.rstrip("\n"), ""
        line_level = _pending_level
    for line in lines.splitlines():
        _recent.append(line)
        log.log(line_level, "%s", line)


def route_log_to_logging() -> None:
    """Install the callback once per process."""
    global _callback
    if _callback is not None:
        return
    import llama_cpp

    _callback = llama_cpp.llama_log_callback(_on_log)
    llama_cpp.llama_log_set(_callback, None)


def recent_log() -> str:
    """The last lines llama.cpp logged."""
    return "\n".join(_recent)
