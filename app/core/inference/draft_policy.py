"""Drafting's Auto setting: draft from the prompt only where this machine decodes a batch of
tokens for much less than that many tokens one by one.

A drafted step decodes the model's token and its guesses in one batch, the logits of every
row kept; the guesses pay only where that batch is cheap. On a GPU, or a CPU that multiplies a
batch by the weights in one pass, it is (the starter model's F16 file here: a batch of 9 for
2.4 - 3.0 one-token decodes, revisions 1.23 - 1.29x as fast); on a CPU whose quantized products read
the weights once per row it is not (the starter's Q4_1, 1 thread: 4.6 - 7.9, drafting slower
on every task; ``hearth bench draft``). So Auto measures, once per model and thread count, what
a batch of ``1 + DRAFT_TOKENS`` tokens costs on the loaded model (a few decodes, then the
context is emptied) and drafts only at ``PAYS`` or less: where a guess of ``MIN_GUESS`` tokens
kept whole, and a longer one nearly whole, gains more than a thrown-away one costs; and only
where drafting's logits (``n_ctx`` x ``n_vocab`` float32) fit in the memory free.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.compat.llama_cpp import logits_on_every_row
from app.core.inference.types import DRAFT_TOKENS

PAYS = 3.5  # a batch of 1 + DRAFT_TOKENS tokens at this many one-token decodes or fewer
ROUNDS = 3  # of each size, in turns: 3 x 10 tokens decoded
_BATCH = DRAFT_TOKENS + 1  # the model's token and its guesses
_measured: dict[tuple[str, int, int], float] = {}  # (model, threads, GPU layers): the cost


def drafting_pays(cost: float) -> bool:
    """Whether a batch costing ``cost`` one-token decodes makes drafting worth it."""
    return cost <= PAYS


def logits_fit(n_ctx: int, n_vocab: int) -> bool:
    """Whether drafting's logits (a row of ``n_vocab`` float32 per token of the context, and
    one per token of a batch) take at most half the memory free now: Auto turns drafting on
    after the load, past the fit estimate, which counts them only for drafting turned on."""
    import psutil

    rows = n_ctx + min(n_ctx, 512)
    free = int(psutil.virtual_memory().available)
    return rows * n_vocab * 4 <= free // 2


def batch_cost(llm: Any, path: Path, threads: int, gpu_layers: int) -> float:
    """What a batch of ``1 + DRAFT_TOKENS`` tokens, logits on every row, costs the loaded
    ``llm`` in one-token decodes: measured once per model, threads and GPU layers in this
    process, then remembered. Leaves the context empty."""
    key = (str(path), threads, gpu_layers)
    if key not in _measured:
        with logits_on_every_row(llm):
            _measured[key] = _measure(llm)
    return _measured[key]


def _measure(llm: Any) -> float:
    tokens = [(1000 + i) % llm.n_vocab() for i in range(_BATCH)]  # any ids the vocabulary has
    try:
        llm.reset()
        llm.eval(tokens[:4])  # warm up
        costs = time_batches(lambda k: llm.eval(tokens[:k]), (_BATCH,), ROUNDS)
    finally:
        llm.reset()  # the next answer evaluates its prompt afresh
    return costs[_BATCH]


def time_batches(
    decode: Callable[[int], object], sizes: tuple[int, ...], rounds: int
) -> dict[int, float]:
    """What a batch of each of ``sizes`` tokens costs in one-token decodes: ``decode(k)``
    decodes k more tokens (logits on every row) at the positions that follow, sizes taking
    turns in alternating order round by round, so that a machine's swings hit all alike; each
    size's median time over a one-token decode's."""
    order = (1, *sizes)
    times: dict[int, list[float]] = {k: [] for k in order}
    for round_ in range(rounds):
        for k in order if round_ % 2 == 0 else reversed(order):
            started = time.perf_counter()
            decode(k)
            times[k].append(time.perf_counter() - started)
    one = statistics.median(times[1])
    return {k: round(statistics.median(times[k]) / one, 2) for k in sizes}
