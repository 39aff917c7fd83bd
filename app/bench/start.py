"""``hearth bench start``: the studio's start against a bare PySide6 window, side by side.

Each round starts the studio (``python -m app``, the path ``hearth`` takes) and then a bare
window of the same size (``app.bench.start_bare``), each as a fresh process, one after the
other, so a machine that slows down slows both alike. Each child reports its first paint
(``app.ui.start_probe``); its start time is counted from just before the process was started.
One warm-up round is left out (the first start reads the files from disk), and the figures are
the medians of the rounds:
- ``start_s_app`` / ``start_s_bare`` and their ``ratio``;
- ``rss_mib_app`` / ``rss_mib_bare`` (resident memory at the first paint) and ``rss_ratio``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

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
    return {"s": report["t"] - began, "rss_mib": report["rss_mib"], "size": report["size"]}


def run_start_benchmark(rounds: int = 5) -> dict:
    app_runs, bare_runs = [], []
    for index in range(rounds + 1):
        app = _start_once([sys.executable, "-m", "app"])
        width, height = app["size"]
        bare = _start_once([sys.executable, "-m", "app.bench.start_bare", str(width), str(height)])
        if index:  # round 0 warms the disk cache
            app_runs.append(app)
            bare_runs.append(bare)

    def median(runs: list[dict], key: str) -> float:
        return round(statistics.median(run[key] for run in runs), 3)

    result = {
        "start_s_app": median(app_runs, "s"),
        "start_s_bare": median(bare_runs, "s"),
        "rss_mib_app": round(median(app_runs, "rss_mib"), 1),
        "rss_mib_bare": round(median(bare_runs, "rss_mib"), 1),
        "rounds": rounds,
        "window": app_runs[-1]["size"],
    }
    result["ratio"] = round(result["start_s_app"] / result["start_s_bare"], 2)
    result["rss_ratio"] = round(result["rss_mib_app"] / result["rss_mib_bare"], 2)
    return result


def format_start_result(result: dict) -> str:
    width, height = result["window"]
    return (
        f"Start to first paint ({width}x{height}, median of {result['rounds']} rounds): "
        f"Hearth {result['start_s_app']:.2f} s, bare PySide6 window "
        f"{result['start_s_bare']:.2f} s, ratio {result['ratio']:.2f}\n"
        f"Memory at first paint: Hearth {result['rss_mib_app']:.0f} MiB, bare "
        f"{result['rss_mib_bare']:.0f} MiB, ratio {result['rss_ratio']:.2f}"
    )
