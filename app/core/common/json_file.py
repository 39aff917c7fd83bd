"""Hearth's JSON files (settings, connections, the header cache, download sidecars, saved
search results): one tolerant reader and one atomic writer.

Stored files get damaged: a crash of another program, a full disk, a hand edit, a sync tool.
``read_json`` never lets such a file stop Hearth: it refuses special files (a FIFO would block
the read forever), files over a size limit and nesting deeper than a depth limit (``json.loads``
on 200,000 nested brackets raises RecursionError), checks the shape with the caller's ``parse``,
keeps the damaged file aside as ``NAME.damaged-<timestamp>`` and returns the caller's defaults
with one sentence for the user. A file with only some values of the wrong type keeps the rest:
``parse`` notes what it reset, a copy of the original is kept aside and the repaired content
written back, so the message is shown once, not at every start.

``write_atomic`` writes through a temporary file in the same folder (a unique name, so two
writers never share it), flushed to disk before ``os.replace``: a crash leaves the old file or
the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

log = logging.getLogger("hearth.files")

T = TypeVar("T")
MAX_BYTES = 16 * 1024 * 1024  # far above any file Hearth writes; a bigger one is not ours
MAX_DEPTH = 32  # Hearth's files nest 4 deep at most


class Damaged(ValueError):
    """Raised by a ``parse`` function: the content as a whole has the wrong shape."""


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """What ``read_json`` gives: the value to use, and what the user should be told."""

    value: T
    message: str = ""  # one sentence for the user; "" when the file was fine or absent
    kept_as: Path | None = None  # where the damaged original now is


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value``, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON; read them as null, so the caller's type check resets
    that value alone instead of the whole file being refused."""
    return None


def decode(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON; any problem (bad UTF-8, syntax, nesting, huge numbers) is ``Damaged``."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise Damaged("it is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 5,000-digit number
        raise Damaged(f"it is not valid JSON ({str(exc)[:80]})") from None
    if depth(value) > max_depth:
        raise Damaged("it is nested too deeply")
    return value


def read_limited(path: Path, max_bytes: int = MAX_BYTES) -> bytes | None:
    """The file's bytes, or None when there is no file. A special file (FIFO, device, socket)
    is never read: it is opened without blocking and refused after ``fstat``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise Damaged("it is a folder, not a file") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise Damaged("it is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise Damaged("it is not a regular file")
        if info.st_size > max_bytes:
            raise Damaged(f"it is too large ({info.st_size:,} bytes)")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Damaged("it is too large")
    return data


def keep_aside(path: Path, data: bytes | None = None, *, private: bool = False) -> Path:
    """Move ``path`` to ``NAME.damaged-<timestamp>`` (or, given ``data``, write that copy there
    and leave ``path``); return the new name. Raises OSError when the folder is not writable."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    serial = 1
    while target.exists() or target.is_symlink():
        serial += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{serial}")
    if data is None:
        os.replace(path, target)
    else:
        write_atomic(target, data, private=private)
    return target


def read_json(
    path: Path,
    what: str,
    parse: Callable[[Any, list[str]], T],
    default: Callable[[], T],
    *,
    dump: Callable[[T], Any] | None = None,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    private: bool = False,
) -> Loaded[T]:
    """Read one of Hearth's JSON files.

    ``what`` names the file for the user ("Your settings"); ``parse(raw, notes)`` turns the
    decoded JSON into the value, raising :class:`Damaged` when nothing is usable and appending
    to ``notes`` what it reset; ``default()`` is the value without a file. With ``dump``, a
    partly repaired value is written back (``private``: readable by this user only).
    """
    path = Path(path)
    data: bytes | None = None
    try:
        data = read_limited(path, max_bytes)
        if data is None:
            return Loaded(default())
        notes: list[str] = []
        value = parse(decode(data, max_depth), notes)
    except Damaged as exc:
        return _set_aside(path, what, str(exc), default())
    except OSError as exc:
        log.warning("%s (%s) could not be read: %s", what, path, exc)
        return Loaded(
            default(),
            f"{what} could not be read ({exc.strerror or exc}); "
            "Hearth used its defaults and left the file as it was.",
        )
    if not notes:
        return Loaded(value)
    reason = "; ".join(notes[:3]) + (f" and {len(notes) - 3} more" if len(notes) > 3 else "")
    try:
        kept = keep_aside(path, data, private=private)
        if dump is not None:
            write_json(path, dump(value), private=private)
    except OSError as exc:
        log.warning("%s (%s): %s; not repaired on disk: %s", what, path, reason, exc)
        return Loaded(
            value,
            f"{what} had values Hearth could not use ({reason}); their "
            f"defaults apply. The file could not be repaired: "
            f"{exc.strerror or exc}.",
        )
    log.warning("%s (%s): %s; the original is kept as %s", what, path, reason, kept)
    return Loaded(
        value,
        f"{what} had values Hearth could not use ({reason}); their defaults "
        f"apply and the original is kept as {kept.name}.",
        kept,
    )


def _set_aside(path: Path, what: str, reason: str, value: T) -> Loaded[T]:
    try:
        kept = keep_aside(path)
    except OSError as exc:
        log.warning(
            "%s (%s) is damaged (%s) and could not be set aside: %s", what, path, reason, exc
        )
        return Loaded(
            value,
            f"{what} could not be used ({reason}) nor set aside "
            f"({exc.strerror or exc}); Hearth used its defaults.",
        )
    log.warning("%s (%s) is damaged (%s); kept as %s", what, path, reason, kept)
    return Loaded(
        value,
        f"{what} could not be used ({reason}); Hearth used its defaults and "
        f"kept the damaged file as {kept.name}.",
        kept,
    )


def write_atomic(
    path: Path, data: bytes, *, private: bool = False, make_folder: bool = True
) -> None:
    """Replace ``path`` with ``data`` in one step (see the module's docstring); ``private``
    files (API keys) are readable by this user only. ``make_folder``: create the folder."""
    path = Path(path)
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if not private:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, value: Any, *, private: bool = False, indent: int | None = 2) -> None:
    """``value`` as JSON through :func:`write_atomic`."""
    text = json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)
    write_atomic(path, text.encode("utf-8"), private=private)
