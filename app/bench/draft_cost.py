"""What a batch of k tokens costs this machine, in one-token decodes: the figure that decides
whether drafting can pay.

A drafted step decodes the model's token and k - 1 guesses in one batch, with the logits of
every row (each guess is checked against the model's own choice). Kept whole, the step gives k
tokens for the batch's cost; so a step can pay only where a batch of k costs fewer than k
one-token decodes, and pays only its margin, kept nearly whole. On a GPU, or a CPU that
multiplies a batch by the weights in one pass, a batch costs little more than one token; on
the 2-core machine Hearth is built on, the starter model's 9-token batch cost 5.8 - 7.8.
Decodes of each size take turns, at positions that move on (no cache to trim), and the
medians are compared.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from app.core.measure.llama_eval import Evaluator

BATCHES = (2, 5, 9)
_TOKENS = list(range(1000, 1016))  # any ids the vocabulary has: only the time is read


def batch_costs(
    model: Path, threads: int, rounds: int = 9, batches: tuple[int, ...] = BATCHES
) -> dict[str, float]:
    """``{"2": cost, "5": cost, ...}``: each batch's median time over a one-token decode's,
    logits on every row."""
    sizes = (1, *batches)
    times: dict[int, list[float]] = {k: [] for k in sizes}
    n_ctx = len(_TOKENS) + rounds * sum(sizes) + 16
    with Evaluator(model, n_ctx=n_ctx, n_batch=max(sizes), threads=threads) as evaluator:
        pos = 0
        evaluator.decode(_TOKENS[:8], pos, [True] * 8)  # warm up
        pos += 8
        for round_ in range(rounds):
            for k in sizes if round_ % 2 == 0 else reversed(sizes):
                started = time.perf_counter()
                evaluator.decode(_TOKENS[:k], pos, [True] * k)
                times[k].append(time.perf_counter() - started)
                pos += k
    one = statistics.median(times[1])
    return {str(k): round(statistics.median(times[k]) / one, 2) for k in batches}
