"""The speed estimate against this machine: the real starter model and quant ladder, generated
by the real llama.cpp in the same test (the benchmark's code path, ``hearth bench speed``),
after the real CPU probe and before any calibration.

The band is generous (0.5-2x): the test machine is shared, and the point is that the formula
tracks reality across quant sizes, not a fixed wall-clock bound. The threads are the ones
Hearth loads with (physical cores but one); each file is measured in rounds, each round's
prediction from a probe taken right before its tokens.
"""

from __future__ import annotations

from app.bench.speed import format_speed_table, run_speed_benchmark


def test_estimated_generation_speed_matches_a_real_run_here(starter_gguf, quant_ladder):
    files = [starter_gguf, quant_ladder["F16"], quant_ladder["Q8_0"], quant_ladder["Q2_K"]]
    rows = run_speed_benchmark(files, tokens=8, rounds=3)
    assert [r["file"] for r in rows] == [f.name for f in files]
    assert all(r["arch"] == "llama" and r["params"] == 134515008 for r in rows)
    assert all(r["rounds"] == 3 and r["ratio_low"] <= r["ratio"] <= r["ratio_high"] for r in rows)
    ratios = {r["file"]: r["ratio"] for r in rows}
    assert all(0.5 <= r <= 2.0 for r in ratios.values()), format_speed_table(rows)
    assert "Worst ratio: " in format_speed_table(rows)
