"""The code's types, checked by mypy with the settings in pyproject.toml ([tool.mypy]: the
folders checked, strict on app/core, the default checks above it; no module excused)."""

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


def test_qt_properties_of_base_classes_are_taken_by_name_and_still_checked(tmp_path):
    """tests/support/mypy_qt_properties.py: PySide6 takes any Qt property (and signal) by name
    in a constructor; its stubs list only the class's own properties (QLabel's wordWrap, not
    QObject's objectName). The plugin adds the rest, typed: a misspelt or mistyped one fails."""
    code = tmp_path / "widgets.py"
    code.write_text(
        "from PySide6.QtWidgets import QLabel, QPushButton\n"
        'QLabel("Hi", objectName="note", wordWrap=True)\n'  # QObject's, QLabel's own
        'QPushButton("Go", objectName="primary", checkable=True, toolTip="Start")\n'
        'QPushButton("Go", clicked=print)\n'  # a signal by name: connected to it
        'QLabel("Hi", objectNam="note")\n'  # line 5: misspelt
        'QLabel("Hi", visible="yes")\n'  # line 6: QWidget's visible is a bool
    )
    result = subprocess.run(
        [MYPY, "--no-incremental", str(code)], cwd=ROOT, capture_output=True, text=True
    )
    lines = {line.split(":")[1] for line in result.stdout.splitlines() if ": error: " in line}
    assert lines == {"5", "6"}, result.stdout + result.stderr
