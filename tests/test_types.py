"""The code's types, checked by mypy with the settings in pyproject.toml ([tool.mypy]: the
folders checked, strict on app/core, the modules still excused)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MYPY = str(Path(sys.executable).with_name("mypy"))


def test_mypy_finds_no_type_error():
    # The cache (.mypy_cache, git-ignored) makes a run after a small change take seconds.
    result = subprocess.run([MYPY], cwd=ROOT, capture_output=True, text=True)
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    shown = errors[:60]
    if len(errors) > len(shown):
        shown.append(f"... and {len(errors) - len(shown)} more")
    # Without an error listed, mypy's own output says what went wrong (a bad setting, a crash).
    said = "\n".join(shown) if errors else result.stdout[-2000:] + result.stderr
    assert result.returncode == 0, f"mypy found {len(errors)} type errors:\n{said}"
