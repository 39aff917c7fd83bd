"""A folder nothing can be written to, for real, also when the tests run as root.

``chmod 555`` does not stop root, so as root the folder is made immutable (``chattr +i``, ext4
and most Linux file systems); the test is skipped where neither works.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` made unwritable for the ``with`` block, then writable again."""
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if as_root:
        chattr = shutil.which("chattr")
        if (
            chattr is None
            or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0
        ):
            pytest.skip("no way to make a folder read-only for root here")
    else:
        folder.chmod(0o555)
    try:
        probe = folder / ".probe"
        try:
            probe.write_bytes(b"")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("this file system ignores read-only folders")
        yield folder
    finally:
        if as_root:
            subprocess.run([shutil.which("chattr") or "chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)
