"""The budget every chat-template compile and render runs under: time, memory and sizes.

A chat template is code from a downloaded file. Jinja's sandbox keeps it from reaching Python's
internals, but not from asking for a 2 GB string or a 10^8-digit power, and Jinja's compiler
runs parts of a template at compile time (constant folding), so the budget covers compiling too.
:class:`Budget` interrupts Python code that runs too long or grows the process too much; the
guarded sandbox (:mod:`app.core.templates.sandbox`) refuses a single operation (a C call the
budget cannot interrupt) whose result would exceed :func:`item_limit` before it runs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

# The rendering thread's own CPU time for rendering all samples; real templates take
# milliseconds. Not the wall clock: on a busy 2-core machine the library scan's check waited
# for the GIL while the window was being built, and the starter model was refused as "takes
# more than 5 s to render" (issue 19's newcomer walk), a verdict the header cache then kept.
TEMPLATE_SECONDS = 5.0
TEMPLATE_MEMORY = 256 << 20  # growth of the process's resident memory while rendering
MAX_TEMPLATE_CHARS = 1 << 20  # real templates are 0.3-50 kB
MAX_TEMPLATE_NUMBER = 10**6  # a width, a count or a repeat a template may ask for
MAX_TEMPLATE_ITEMS = 10**7  # characters or items a single operation may build
MAX_POWER_BITS = 1 << 16  # a power's size in bits; real templates compute none
MAX_JSON_INDENT = 64  # tojson's indent; real templates use 2 or 4

_LIMIT = threading.local()


class TemplateLimit(BaseException):
    """A template asked for more time, memory or size than a chat template may; the message
    says what ("it takes more than 5 s to render").

    A ``BaseException``: Jinja turns any ``Exception`` raised while folding constants into "not
    constant, evaluate later" and would so swallow the budget's interruption; this one passes
    through Jinja and is caught only where a render or a compile is started."""


def item_limit() -> int:
    """Characters or items one operation may build in this thread now (more while the user's
    own long text is rendered: :func:`for_input`)."""
    return getattr(_LIMIT, "items", MAX_TEMPLATE_ITEMS)


@contextmanager
def for_input(chars: int) -> Iterator[None]:
    """Raise the size limit for a render over ``chars`` characters of the user's text: a
    template may copy each message a few times (a 1 MB message must not be called a bomb)."""
    previous = item_limit()
    _LIMIT.items = MAX_TEMPLATE_ITEMS + 4 * chars
    try:
        yield
    finally:
        _LIMIT.items = previous


class Budget:
    """Interrupts Python code run in this thread past ``seconds`` of its CPU time, or once the
    process has grown by ``memory`` bytes (checked on every line through ``sys.settrace``;
    skipped when a debugger or coverage tool already traces).

    Once spent it stays spent: every later line raises again, so code that catches the first
    :class:`TemplateLimit` cannot go on."""

    def __init__(self, seconds: float = TEMPLATE_SECONDS, memory: int = TEMPLATE_MEMORY) -> None:
        self.seconds, self.memory = seconds, memory
        self.spent: str | None = None

    def __enter__(self) -> Budget:
        self.active = sys.gettrace() is None
        if self.active:
            self.rss = _ResidentMemory()
            self.deadline = time.thread_time() + self.seconds
            self.limit = self.rss.read() + self.memory
            sys.settrace(self._trace)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.active:
            sys.settrace(None)
            self.rss.close()

    def _trace(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if frame.f_code is _EXIT_CODE:
            return None
        if self.spent is None:
            if time.thread_time() > self.deadline:
                self.spent = f"it takes more than {self.seconds:.3g} s to render"
            elif self.rss.read() > self.limit:
                self.spent = f"it needs more than {self.memory >> 20} MB to render"
        if self.spent is not None:
            raise TemplateLimit(self.spent)
        return self._trace


_EXIT_CODE = Budget.__exit__.__code__


class _ResidentMemory:
    """The process's resident memory in bytes: ~3 us a read from /proc on Linux, psutil
    elsewhere."""

    def __init__(self) -> None:
        self._fd = None
        if hasattr(os, "pread"):
            try:
                self._fd = os.open("/proc/self/statm", os.O_RDONLY)
                self._page = os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError):
                self._fd = None
        if self._fd is None:
            import psutil

            self._process = psutil.Process()

    def read(self) -> int:
        if self._fd is not None:
            return int(os.pread(self._fd, 128, 0).split()[1]) * self._page
        return int(self._process.memory_info().rss)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
