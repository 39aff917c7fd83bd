"""``hearth bench start``: the studio's start against a bare PySide6 window, side by side.

Each round starts the studio (``python -m app``, the path ``hearth`` takes) and a bare window
of the same size (``app.bench.start_bare``), each as a fresh process, one after the other;
which one goes first alternates from round to round, so a machine that slows down slows both
alike. Each child reports its first paint (``app.ui.start_probe``); its start time is counted
from just before the process was started. Hearth's modules are byte-compiled first, as a
user's second start finds them (an installed wheel is compiled by pip, a source checkout on
its first run), and one warm-up round is left out (the first start reads the files from
disk). The figures are the medians of the rounds:
- ``start_s_app`` / ``start_s_bare`` and their ``ratio``; ``ratio_spread``: the lowest and
  highest of the rounds' own ratios (a busy machine widens it);
- ``cpu_s_app`` / ``cpu_s_bare`` and ``cpu_ratio``: each process's CPU time to its first
  paint, which a busy machine stretches less than the wall clock;
- ``rss_mib_app`` / ``rss_mib_bare`` (resident memory at the first paint) and ``rss_ratio``.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from app.ui.start_probe import ENV

TIMEOUT_S = 120


def _start_once(command: list[str]) -> dict:
    env = {**os.environ, ENV: "1"}
    began = time.time()
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(command[-2:])} did not open its window "
            f"(exit {done.returncode}): {done.stderr.strip()[-800:]}"
        )
    report = json.loads(lines[-1])
    return {
        "s": report["t"] - began,
        "cpu_s": report["cpu_s"],
        "rss_mib": report["rss_mib"],
        "size": report["size"],
    }


def _byte_compile() -> None:
    """Hearth's modules compiled, as after a first start (quietly; a folder that cannot be
    written to only leaves both sides as they are)."""
    compileall.compile_dir(Path(__file__).resolve().parents[1], quiet=2)


def run_start_benchmark(rounds: int = 9) -> dict:
    _byte_compile()
    app_runs, bare_runs = [], []
    size = None
    for index in range(rounds + 1):
        app_first = index % 2 == 0 or size is None
        if app_first:
            app = _start_once([sys.executable, "-m", "app"])
            size = app["size"]
        assert size is not None  # set by the studio's start, always first in round 0
        bare = _start_once([sys.executable, "-m", "app.bench.start_bare", *map(str, size)])
        if not app_first:
            app = _start_once([sys.executable, "-m", "app"])
        if index:  # round 0 warms the disk cache
            app_runs.append(app)
            bare_runs.append(bare)

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    result = {
        "start_s_app": round(median(app_runs, "s"), 3),
        "start_s_bare": round(median(bare_runs, "s"), 3),
        "cpu_s_app": round(median(app_runs, "cpu_s"), 3),
        "cpu_s_bare": round(median(bare_runs, "cpu_s"), 3),
        "rss_mib_app": round(median(app_runs, "rss_mib"), 1),
        "rss_mib_bare": round(median(bare_runs, "rss_mib"), 1),
        "rounds": rounds,
        "window": app_runs[-1]["size"],
    }
    result["ratio"] = round(result["start_s_app"] / result["start_s_bare"], 2)
    each = [app["s"] / bare["s"] for app, bare in zip(app_runs, bare_runs, strict=True)]
    result["ratio_spread"] = [round(min(each), 2), round(max(each), 2)]
    result["cpu_ratio"] = round(result["cpu_s_app"] / result["cpu_s_bare"], 2)
    result["rss_ratio"] = round(result["rss_mib_app"] / result["rss_mib_bare"], 2)
    return result


def format_start_result(result: dict) -> str:
    width, height = result["window"]
    low, high = result["ratio_spread"]
    return (
        f"Start to first paint ({width}x{height}, median of {result['rounds']} rounds): "
        f"Hearth {result['start_s_app']:.2f} s, bare PySide6 window "
        f"{result['start_s_bare']:.2f} s, ratio {result['ratio']:.2f} "
        f"(rounds {low:.2f}-{high:.2f})\n"
        f"CPU time to first paint: Hearth {result['cpu_s_app']:.2f} s, bare "
        f"{result['cpu_s_bare']:.2f} s, ratio {result['cpu_ratio']:.2f}\n"
        f"Memory at first paint: Hearth {result['rss_mib_app']:.0f} MiB, bare "
        f"{result['rss_mib_bare']:.0f} MiB, ratio {result['rss_ratio']:.2f}"
    )
