"""One file's pass of a measurement: load, score the text's windows, time a short generation.

Used by ``app/core/measure/measurement.py``; kept apart so the bookkeeping (store, reference choice,
progress) and the llama.cpp loop each stay small.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.common.errors import MeasureError
from app.core.measure.kld import ReferenceLogits, Scorer
from app.core.measure.llama_eval import Evaluator, Vocab

if TYPE_CHECKING:  # measurement imports this module to run its passes
    from app.core.measure.measurement import MeasureSettings

MIN_SCORED = 64


@dataclass(frozen=True)
class ScorePlan:
    """What every file evaluates, identically: the windows of tokens and which are scored."""

    windows: tuple[tuple[int, ...], ...]
    warmup: int
    n_vocab: int
    n_ctx: int
    n_batch: int
    gen_prompt: tuple[int, ...]
    gen_tokens: int

    @property
    def scored(self) -> int:
        return sum(len(w) - self.warmup for w in self.windows)

    @property
    def batches(self) -> int:
        return sum(-(-len(w) // self.n_batch) for w in self.windows)

    @property
    def steps_per_file(self) -> int:
        return self.batches + 2  # load, batches, generation


def score_plan(path: Path, text: str, settings: MeasureSettings) -> ScorePlan:
    """Tokenize ``text`` with the model's vocabulary and cut it into windows."""
    if settings.warmup < 1 or settings.n_ctx <= settings.warmup + 1:
        raise MeasureError("The measuring window must be longer than its warm-up.")
    with Vocab(path) as vocab:
        # Only the start is used: 16 characters per token is more than any text needs.
        tokens = vocab.tokenize(text[: settings.tokens * 16])[: settings.tokens]
        n_vocab, bos = vocab.n_vocab, ([vocab.bos] if vocab.add_bos else [])
    body = settings.n_ctx - len(bos)
    windows = []
    for start in range(0, len(tokens), body):
        window = tuple(bos + tokens[start : start + body])
        if len(window) > settings.warmup + 8:  # a short tail adds noise, not information
            windows.append(window)
    gen_prompt = tuple(bos + tokens[: min(settings.gen_prompt, settings.n_batch - 1)])
    longest = max([len(w) for w in windows] + [len(gen_prompt) + settings.gen_tokens])
    n_ctx = -(-longest // 256) * 256  # what is used, not more
    plan = ScorePlan(
        windows=tuple(windows),
        warmup=settings.warmup,
        n_vocab=n_vocab,
        n_ctx=n_ctx,
        n_batch=min(settings.n_batch, n_ctx),
        gen_prompt=gen_prompt,
        gen_tokens=settings.gen_tokens,
    )
    if plan.scored < MIN_SCORED:
        raise MeasureError(
            f"The text is too short to measure: it gives {len(tokens)} tokens; at least "
            f"{MIN_SCORED + settings.warmup + len(bos)} are needed (a few paragraphs)."
        )
    return plan


def run_file(
    path: Path,
    plan: ScorePlan,
    reference: ReferenceLogits,
    *,
    record: bool,
    threads: int,
    cancel: threading.Event,
    report: Callable[[str], None],
) -> dict[str, Any]:
    """Evaluate ``path`` on ``plan``; ``record`` = this is the reference (its logits are kept).

    Returns the fields of ``FileMeasurement`` this pass measures.
    """
    name = path.name
    started = time.perf_counter()
    with Evaluator(path, plan.n_ctx, plan.n_batch, threads, cancel) as model:
        load_s = time.perf_counter() - started
        report(f"{name}: loaded")
        if model.n_vocab != plan.n_vocab:
            raise MeasureError(
                f"{name} has a different vocabulary ({model.n_vocab:,} tokens "
                f"vs {plan.n_vocab:,}): it is not a quant of the same model."
            )
        scorer = Scorer(reference, record=record)
        decode_s, decoded = 0.0, 0
        for w, window in enumerate(plan.windows):
            model.clear()
            for start in range(0, len(window), plan.n_batch):
                chunk = window[start : start + plan.n_batch]
                # Position i is scored when it predicts a token after the warm-up.
                outputs = [
                    plan.warmup - 1 <= start + i < len(window) - 1 for i in range(len(chunk))
                ]
                tick = time.perf_counter()
                logits = model.decode(list(chunk), start, outputs)
                decode_s += time.perf_counter() - tick
                decoded += len(chunk)
                first = max(plan.warmup - 1 - start, 0)
                targets = np.array(
                    window[start + first + 1 : start + len(chunk) + 1][: len(logits)],
                    dtype=np.int64,
                )
                scorer.add(logits, targets)
                report(
                    f"{name}: window {w + 1}/{len(plan.windows)}, "
                    f"{min(start + len(chunk), len(window))}/{len(window)} tokens"
                )
        tok_s = _generation_speed(model, plan)
        report(f"{name}: generation {tok_s:.1f} tok/s")
    return dict(
        tokens=scorer.count,
        ppl=scorer.ppl,
        kld=0.0 if record else scorer.kld,
        same_top_pct=100.0 if record else scorer.same_top_pct,
        prompt_tok_s=decoded / decode_s if decode_s > 0 else 0.0,
        tok_s=tok_s,
        load_s=load_s,
        memory_bytes=model.memory_bytes,
    )


def _generation_speed(model: Evaluator, plan: ScorePlan) -> float:
    """Greedy-generate ``gen_tokens`` after ``gen_prompt``; tokens per second of the loop."""
    if plan.gen_tokens <= 0:
        return 0.0
    model.clear()
    prompt = list(plan.gen_prompt)
    logits = model.decode(prompt, 0, [i == len(prompt) - 1 for i in range(len(prompt))])
    token = int(logits[-1].argmax())
    started = time.perf_counter()
    for pos in range(len(prompt), len(prompt) + plan.gen_tokens):
        token = int(model.decode([token], pos, [True])[-1].argmax())
    return plan.gen_tokens / (time.perf_counter() - started)
