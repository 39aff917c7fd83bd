"""hearth bench, run as a user runs it (a short chat round: the full one takes minutes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

HEARTH = str(Path(sys.executable).with_name("hearth"))


def test_bench_chat_prints_its_ratios(starter_home):
    result = subprocess.run([HEARTH, "bench", "chat", "--json", "--rounds", "1", "--tokens", "48"],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for key in ("tok_s_app", "tok_s_raw", "ratio", "max_stall_ms", "per_token_cost_ratio"):
        assert figures[key] > 0, key
    assert abs(figures["ratio"] - figures["tok_s_app"] / figures["tok_s_raw"]) < 0.01


def test_bench_without_the_starter_model_says_what_to_do(hearth_home):
    result = subprocess.run([HEARTH, "bench", "chat"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: The benchmarks use the starter model: run 'hearth setup' first.")
