"""The code's lint and format, checked by ruff with the rules in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = str(Path(sys.executable).with_name("ruff"))


def test_ruff_finds_nothing_to_fix():
    result = subprocess.run(
        [RUFF, "check", "app", "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_the_code_is_formatted():
    result = subprocess.run(
        [RUFF, "format", "--check", "app", "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
