"""Finding model files on disk without trusting the disk.

The library scans folders other programs change while it reads them, and folders anyone can
put anything in. Errors are per entry (one vanished sub-folder never hides the rest), and a
file is only ever looked at with ``stat`` until it is known to be a regular, non-empty file.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("hearth.library")


def usable(path: Path) -> bool:
    """A regular, non-empty file (after symlinks). Only ``stat`` is used: a FIFO, a device, a
    socket or a link into /proc is never opened (opening a FIFO blocks forever), and a 0-byte
    file is no model."""
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size > 0


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone since the scan
        return 0


def walk(folder: Path, wanted: Callable[[Path], bool]) -> list[Path]:
    """The usable files under ``folder`` that ``wanted`` accepts, sorted. Errors are per entry:
    a sub-folder that vanishes or cannot be read mid-scan (another program at work, a path too
    long) is skipped and logged, and the rest is still listed. Symlinked folders are not
    followed (no loops), as ``Path.rglob`` does not follow them."""
    found, pending = [], [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as entries:
                listed = list(entries)
        except OSError as exc:
            log.warning("Could not scan %s: %s", current, exc)
            continue
        for entry in listed:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif wanted(path) and usable(path):
                    found.append(path)
            except OSError as exc:
                log.warning("Skipping %s: %s", path, exc)
    return sorted(found)
