"""hearth bench start, and what the studio's start leaves out (issue 19)."""

import json
import os
import subprocess
import sys
from pathlib import Path

HEARTH = str(Path(sys.executable).with_name("hearth"))
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def test_bench_start_prints_both_sides(hearth_home):
    result = subprocess.run(
        [HEARTH, "bench", "start", "--json", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for key in ("start_s_app", "start_s_bare", "rss_mib_app", "rss_mib_bare"):
        assert 0 < figures[key] < 120, key
    assert figures["ratio"] == round(figures["start_s_app"] / figures["start_s_bare"], 2)
    # Both windows are the same size, the studio's.
    assert figures["window"][0] >= 640 and figures["window"][1] >= 400


CHILD = """
import sys
from app.cli import main
code = main([])
heavy = ("llama_cpp", "numpy", "jinja2", "gguf", "huggingface_hub", "markdown_it", "pygments",
         "app.core.measure.measurement", "app.ui.compare.page", "app.ui.discover.page",
         "app.ui.server.panel", "app.cli.cmd_compare", "app.core.gguf.check", "http.client",
         "ssl")
print("loaded:", ",".join(name for name in heavy if name in sys.modules))
raise SystemExit(code)
"""


def test_the_studio_starts_without_the_engine_or_the_other_pages(hearth_home):
    """Until the first paint, nothing of llama.cpp, numpy, the measuring code, the pages not
    shown, the GGUF check or the HTTP client is imported: they made the start 7.6 times slower
    than a bare window."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "HEARTH_START_PROBE": "1"},
    )
    assert result.returncode == 0, result.stderr
    first_paint = json.loads(result.stdout.splitlines()[0])
    assert first_paint["rss_mib"] > 0
    assert result.stdout.splitlines()[-1].strip() == "loaded:"
