"""Side by side's plain parts: the memory schedule on real ladder files, arena labels, votes."""

from __future__ import annotations

import random

import pytest

from app.core.compare.side_by_side import (
    Schedule,
    arena_labels,
    blind_order,
    round_labels,
    schedule,
    votes_for,
    with_remote,
)
from app.core.fit.estimate import Machine


def test_schedule_runs_at_once_only_when_all_fit(quant_ladder):
    files = [quant_ladder["Q8_0"], quant_ladder["Q4_K_M"]]
    roomy = schedule(files, Machine(ram_bytes=8_000_000_000))
    assert roomy.together and roomy.gpu_layers == (0, 0)
    assert "answer at once" in roomy.message
    # Each file needs more than its size; together more than the sum of the files.
    assert roomy.needed_bytes > sum(f.stat().st_size for f in files)
    one_fits = max(f.stat().st_size for f in files) * 2
    short = schedule(files, Machine(ram_bytes=one_fits))
    assert not short.together and "one after another" in short.message
    assert short.free_bytes == one_fits


def test_schedule_counts_gpu_memory(quant_ladder):
    files = [quant_ladder["Q8_0"], quant_ladder["Q6_K"]]
    gpu = schedule(
        files, Machine(ram_bytes=2_000_000_000, gpu_bytes=(4_000_000_000,), backend="CUDA")
    )
    assert gpu.together and all(layers > 0 for layers in gpu.gpu_layers)


def test_arena_labels_are_the_quants_or_else_tell_models_apart():
    assert arena_labels([("Llama-Q8_0", "Q8_0"), ("Llama-Q4_K_M", "Q4_K_M")]) == ["Q8_0", "Q4_K_M"]
    assert arena_labels([("Llama-Q4_K_M", "Q4_K_M"), ("Qwen-Q4_K_M", "Q4_K_M")]) == [
        "Llama-Q4_K_M Q4_K_M",
        "Qwen-Q4_K_M Q4_K_M",
    ]
    assert arena_labels([("a", None), ("a", None)]) == ["a", "a (2)"]


def test_votes_for_two_and_more_columns():
    assert votes_for(["Q8_0", "Q2_K"], 1) == [("Q8_0", "Q2_K", "B")]
    assert votes_for(["Q8_0", "Q2_K"], None) == [("Q8_0", "Q2_K", "tie")]
    assert votes_for(["A", "B", "C"], 2) == [("C", "A", "A"), ("C", "B", "A")]
    assert votes_for(["A", "B", "C"], None) == [
        ("A", "B", "tie"),
        ("A", "C", "tie"),
        ("B", "C", "tie"),
    ]
    with pytest.raises(ValueError):
        votes_for(["A", "B"], 2)


def test_blind_order_is_a_shuffle():
    orders = {tuple(blind_order(3, random.Random(seed))) for seed in range(20)}
    assert all(sorted(o) == [0, 1, 2] for o in orders) and len(orders) > 1


def test_remote_columns_answer_at_once_beside_local_ones():
    local = Schedule(
        False,
        (10, 20),
        900,
        300,
        "The 2 models need about 900 B together and 300 B is free: they answer one after another.",
    )
    mixed = with_remote(local, [False, True, False])
    assert mixed.gpu_layers == (10, 0, 20) and not mixed.together
    assert mixed.message.endswith(
        "one after another; the remote model answers on its server, at once."
    )
    one = with_remote(Schedule(False, (5,), 900, 300, "too large"), [True, False])
    assert one.together and one.gpu_layers == (0, 5)
    assert one.message == "The remote model answers on its server, at once beside the local model."
    only = with_remote(None, [True, True])
    assert only.together and only.gpu_layers == (0, 0)
    assert only.message == "The remote models answer on their servers, at once."
    assert with_remote(local, [False, False]) == local


def test_round_labels_keep_remote_labels_and_tell_local_quants_apart():
    assert round_labels([("Smol", "Q8_0"), "Workstation · smol.gguf", ("Smol", "Q4_K_M")]) == [
        "Q8_0",
        "Workstation · smol.gguf",
        "Q4_K_M",
    ]
    assert round_labels(["A · m", "A · m"]) == ["A · m", "A · m (2)"]
