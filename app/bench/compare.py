"""Benchmark of Compare's measuring: the starter model's quant ladder, timed end to end.

``run_compare_benchmark(ladder)`` measures the six ladder quants against the F16 reference
with the default settings and no stored results (a throw-away store), so every file is really
evaluated; the target is under 60 s on a 2-core machine. ``hearth bench compare`` prints
``format_compare_result`` of it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from app.core.common.units import format_size
from app.core.measure.llama_eval import prefer_passive_wait
from app.core.measure.measurement import MeasureSettings, measure
from app.core.measure.store import MeasureStore

TARGET_SECONDS = 60.0
LADDER_ORDER = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")


def run_compare_benchmark(
    ladder: dict[str, Path], settings: MeasureSettings = MeasureSettings()
) -> dict:
    """Measure ``ladder`` ({"F16": path, "Q8_0": path, ...}) from scratch; seconds and table.

    Call before anything imports ``llama_cpp`` for passive OpenMP waiting to take effect
    (``omp_passive`` in the result says whether it did).
    """
    passive = prefer_passive_wait()
    files = [ladder[q] for q in LADDER_ORDER if q in ladder]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as folder:
        started, cpu_before = time.perf_counter(), _cpu_seconds()
        comparison = measure(
            files, store=MeasureStore(Path(folder) / "m.sqlite3"), settings=settings
        )
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before
    return {
        "seconds": round(seconds, 2),
        # CPU time of this process: what the run cost, to compare runs on a busy machine.
        "cpu_seconds": round(cpu, 2),
        "target_seconds": TARGET_SECONDS,
        "files": len(files),
        "tokens_scored": comparison.rows[0].tokens,
        "settings": comparison.to_json()["settings"],
        "threads": comparison.rows[0].threads,
        "omp_passive": passive,
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "reference": comparison.reference,
        "rows": [row.to_json() for row in comparison.rows],
    }


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def format_compare_result(result: dict) -> str:
    """The benchmark as a few lines of text for a terminal."""
    lines = [
        f"{'QUANT':<7} {'SIZE':>9} {'PPL':>8} {'KLD':>8} {'TOP%':>6} {'PROMPT':>7} "
        f"{'TOK/S':>6} {'LOAD':>6} {'MEMORY':>9}"
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['quant'] or '?':<7} {format_size(r['size_bytes']):>9} {r['ppl']:>8.3f} "
            f"{r['kld']:>8.4f} {r['same_top_pct']:>6.1f} {r['prompt_tok_s']:>7.0f} "
            f"{r['tok_s']:>6.1f} {r['load_s']:>5.2f}s {format_size(r['memory_bytes']):>9}"
        )
    verdict = "within" if result["seconds"] <= result["target_seconds"] else "OVER"
    load = result.get("load_average_before")
    lines.append(
        f"Measured {result['files']} files ({result['tokens_scored']} tokens scored each) in "
        f"{result['seconds']:.1f} s: {verdict} the {result['target_seconds']:.0f} s target "
        f"({result['threads']} thread{'' if result['threads'] == 1 else 's'}; "
        f"{result['cpu_seconds']:.0f} CPU-seconds on "
        f"{result['cpu_count']} CPUs"
        + (f", load average {load:.1f} before" if load is not None else "")
        + ")."
    )
    return "\n".join(lines)
