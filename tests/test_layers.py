"""The layering of ../shared/HOUSE_STYLE.md, enforced: app.core never imports Qt or the UI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_core_modules_import_without_qt():
    """Importing every core module in a fresh interpreter loads no PySide6 module."""
    core = ROOT / "app" / "core"
    modules = sorted(
        ".".join(p.relative_to(core).with_suffix("").parts)
        for p in core.rglob("*.py")
        if p.stem != "__init__"
    )
    code = (
        "import sys\n"
        + "".join(f"import app.core.{m}\n" for m in modules)
        + "print(sorted(m for m in sys.modules if m.startswith('PySide6')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
