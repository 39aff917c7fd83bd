"""The speed estimate on the model zoo's real files (one tiny random-weight GGUF per
architecture): what a token reads per architecture, then predicted against measured by the real
llama.cpp through ``hearth bench speed``'s code path.

The measured band is wide (0.25-4x): the test machine is shared, its load moves both the CPU
probe and the run (see app/bench/speed.py); the point is that no architecture is off by an
order of magnitude, as a fixed 5 ms per token made these tiny models (ratios down to 0.1).
"""

from __future__ import annotations

import re

import pytest

from app.bench.speed import format_speed_table, run_speed_benchmark
from app.bench.zoo import SIZES
from app.core.fit import speed
from app.core.fit.shape import shape_from_file

EXPERTS = re.compile(r"_exps\b")


@pytest.fixture(scope="module")
def shapes(zoo_models):
    return {arch: shape_from_file(path) for arch, path in zoo_models.items()}


def test_a_moe_token_reads_only_the_used_experts(shapes):
    moe = shapes["qwen3moe"]
    experts = sum(t.nbytes for t in moe.tensors if EXPERTS.search(t.name))
    rest = sum(t.nbytes for t in moe.tensors if not EXPERTS.search(t.name))
    dims = SIZES["tiny"]
    used = experts * dims.n_expert_used / dims.n_expert
    assert speed.traffic(moe).cpu_bytes == pytest.approx(rest + used)


def test_mla_reads_one_compressed_row_per_token_and_layer(shapes):
    mla = shapes["deepseek2"]
    grows = speed.traffic(mla, depth=1000).cpu_bytes - speed.traffic(mla).cpu_bytes
    assert grows == mla.n_layers * 1000 * mla.key_length * 2  # K only (f16), one "head"
    dense = shapes["qwen3"]
    per_token = dense.n_layers * 2 * dense.key_length * dense.n_head_kv[0] * 2
    assert grows < speed.traffic(dense, depth=1000).cpu_bytes - speed.traffic(dense).cpu_bytes
    assert per_token > mla.n_layers * mla.key_length * 2


def test_window_layers_stop_reading_at_the_window_and_recurrent_state_is_read(shapes):
    gemma = shapes["gemma3"]
    deep = speed.traffic(gemma, depth=4000).cpu_bytes - speed.traffic(gemma, depth=2000).cpu_bytes
    full_layers = gemma.swa_layers.count(False)
    assert deep == full_layers * 2000 * 2 * gemma.key_length * gemma.n_head_kv[0] * 2
    hybrid = shapes["granitehybrid"]
    weights = sum(t.nbytes for t in hybrid.tensors)
    assert speed.traffic(hybrid).cpu_bytes == weights + 2 * hybrid.recurrent_bytes


@pytest.mark.slow
def test_predicted_speed_follows_a_real_run_on_every_architecture(zoo_models):
    rows = run_speed_benchmark(list(zoo_models.values()), tokens=8, rounds=3)
    assert [r["arch"] for r in rows] == list(zoo_models)
    assert all(r["quant"] == "Q8_0" and r["measured_tok_s"] > 0 for r in rows)
    assert all(0.25 <= r["ratio"] <= 4.0 for r in rows), format_speed_table(rows)
