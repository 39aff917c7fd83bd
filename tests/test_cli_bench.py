"""hearth bench, run as a user runs it (a short chat round: the full one takes minutes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

HEARTH = str(Path(sys.executable).with_name("hearth"))


def test_bench_chat_prints_its_ratios(starter_home):
    result = subprocess.run(
        [HEARTH, "bench", "chat", "--json", "--rounds", "2", "--tokens", "48"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for key in (
        "tok_s_app",
        "tok_s_raw",
        "ratio",
        "max_stall_ms",
        "max_stall_ms_busy",
        "per_token_cost_ratio",
        "load_s_app",
        "load_s_raw",
    ):
        assert figures[key] > 0, key
    # The app's tokens come from its model host: the overhead is the difference of the speeds.
    expected = (1 / figures["tok_s_app"] - 1 / figures["tok_s_raw"]) * 1000
    assert abs(figures["host_overhead_ms_per_token"] - expected) < 0.01
    assert abs(figures["ratio"] - figures["tok_s_app"] / figures["tok_s_raw"]) < 0.01
    assert len(figures["round_ratios"]) == 2 and figures["tokens"] == 48
    # Raw and app ran as two processes taking turns (app/bench/interleave.py); each one's
    # speed counts only its own time, so neither can be faster than half of the two together.
    assert figures["in_turns"] is True
    assert 0.5 < figures["ratio"] < 2.0


def test_bench_without_the_starter_model_says_what_to_do(hearth_home):
    result = subprocess.run([HEARTH, "bench", "chat"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: The benchmarks use the starter model: run 'hearth setup' first."
    )


def test_bench_download_runs_without_the_test_suite(hearth_home, quant_ladder, tmp_path):
    # From another folder, as an installed copy runs: the test suite is not importable there,
    # so the benchmark's Hub must come with the app.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ""}
    no_tests = subprocess.run(
        [sys.executable, "-c", "import tests.support"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert no_tests.returncode == 1 and "No module named 'tests" in no_tests.stderr
    model = quant_ladder["Q2_K"]

    result = subprocess.run(
        [HEARTH, "bench", "download", "--json", "--model", str(model)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert (figures["file"], figures["size_bytes"]) == (model.name, model.stat().st_size)
    assert figures["mb_s_app"] > 0 and figures["mb_s_raw"] > 0
    assert figures["search_rows"] == 100 and figures["search_rounds"] == 3
    assert 0 < figures["search_to_rows_in_ms"] < figures["search_to_first_screen_ms"]
    assert figures["search_to_results_ms"] > 0  # other rounds: no order with the two above
    assert figures["search_to_results_ms_best"] <= figures["search_to_results_ms"]
    assert (
        figures["search_to_first_screen_ms"] > 0 and 6 <= figures["search_first_screen_rows"] <= 9
    )


def test_bench_draft_prints_both_speeds_of_each_task(starter_home):
    result = subprocess.run(
        [HEARTH, "bench", "draft", "--json", "--rounds", "1", "--tokens", "16"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for task in ("copy", "free"):
        row = figures[task]
        assert row["tok_s_plain"] > 0 and row["tok_s_draft"] > 0, task
        assert abs(row["ratio"] - row["tok_s_draft"] / row["tok_s_plain"]) < 0.01
    assert figures["rounds"] == 1 and figures["max_tokens"] == 16
