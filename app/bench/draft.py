"""``hearth bench draft``: generation speed with prompt-lookup drafting and without, side by side.

Two engines hold the same model in this process, one loaded plain and one with
``LoadOptions.draft_tokens``; each round asks both the same question (greedy, fixed seed),
the order swapped from round to round, so that a shared machine's swings in speed hit both
alike. Three tasks: ``copy``, a paragraph with spelling mistakes to correct and write out again,
whose answer repeats the prompt (where drafts from the chat are right); ``code``, a function to
rename in a code block written out again, which the starter model rewrites more than it copies
(reported, no bar: how much a revision gains depends on how faithfully the model copies); and
``free``, a story asked for from nothing (where drafts are mostly wrong). Per task:
``copied``, the share of the plain answer's tokens that a lookup of its previous 4 tokens in
the prompt would have guessed right (how copy-heavy the task was for this model);
``tok_s_plain`` and ``tok_s_draft``, the median round's tokens per second from the first token
to the last (as Chat shows them), timed on the clock of the thread doing the work
(``cpu_speed.cpu_clock``, as ``hearth bench speed`` does) where llama.cpp runs one thread, so
that the time other programs held the core counts on neither side (beside a test run on 2
cores the plain answer's wall-clock speed swung 17 - 83 tok/s between rounds, and a round's
free-chat ratio 0.4 - 2.6); ``ratio``, the median round's draft ÷ plain (each round's answers
ran one after the other); ``wall_ratio``, the same on the wall clock, for reference; and
``same_answers``, the rounds where the two answers were the same text. ``batch_cost``: what a
batch of 2, 5 and 9 tokens costs this machine in one-token decodes (``batch_costs``), the bound
on what drafting can gain here, and ``auto``: "on" or "off", what Drafting's Auto setting
chooses at that cost (``draft_policy``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.hardware.cpu_speed import cpu_clock
from app.core.inference.draft_policy import PAYS, drafting_pays, time_batches
from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.measure.llama_eval import Evaluator, Vocab

DRAFT_TOKENS = 8
BATCHES = (2, 5, 9)  # the batch sizes whose cost is reported
SEED = 7
N_CTX = 2048
CODE = """def total_price(items, tax_rate):
    total = 0
    for item in items:
        total = total + item.price * item.quantity
    total = total + total * tax_rate
    return total


def average_price(items):
    count = 0
    total = 0
    for item in items:
        total = total + item.price
        count = count + 1
    return total / count
"""
PARAGRAPH = (
    "The lighthouse stands on a rocky point at the north end of the iland. It was bilt in 1874 "
    "and its light can be seen from twenty miles away. Every evening the keeper climbs the one "
    "hundred and twelve steps to the lamp room, cleans the glass, and lights the lamp. In the "
    "morning he writes the wether and the ships he saw in a log book that is kept in the office "
    "below."
)
TASKS: dict[str, str] = {
    "copy": "Correct the spelling mistakes in this paragraph and write it out in full:\n\n"
    + PARAGRAPH,
    "code": "Rename the function total_price to order_total in this Python code, and write "
    "out the whole code again:\n\n```python\n" + CODE + "```",
    "free": "Tell me a short story about a lighthouse keeper.",
}


def run_draft_benchmark(
    model: Path,
    rounds: int = 5,
    max_tokens: int = 256,
    draft_tokens: int = DRAFT_TOKENS,
    progress: Callable[[str], None] | None = None,
    draft_model: Path | None = None,
) -> dict[str, Any]:
    """``{"copy": {...}, "free": {...}, "rounds", "draft_tokens", "threads", "max_tokens",
    "batch_cost"}``, each task with ``tok_s_plain``, ``tok_s_draft``, ``ratio`` and
    ``same_answers``; with ``draft_model`` (a smaller model of the same family) a third engine
    drafts with it, and each task adds ``tok_s_draft_model``, ``ratio_draft_model`` and
    ``same_answers_draft_model``."""
    engines = {"plain": Engine(), "draft": Engine()}
    engines["plain"].load(model, LoadOptions(n_ctx=N_CTX))
    engines["draft"].load(model, LoadOptions(n_ctx=N_CTX, draft_tokens=draft_tokens))
    if draft_model is not None:
        engines["draft_model"] = Engine()
        engines["draft_model"].load(
            model,
            LoadOptions(n_ctx=N_CTX, draft_tokens=draft_tokens, draft_model_path=str(draft_model)),
        )
    sampling = SamplingOptions(temperature=0.0, max_tokens=max_tokens, seed=SEED)
    speeds: dict[tuple[str, str], list[float]] = {}
    walls: dict[tuple[str, str], list[float]] = {}
    same: dict[tuple[str, str], int] = {}
    plain_answers: dict[str, str] = {}
    loaded = engines["plain"].loaded
    threads = loaded.n_threads if loaded else 0
    clock = cpu_clock if threads == 1 else time.perf_counter  # see the module's docstring
    try:
        for round_ in range(rounds):
            for task, prompt in TASKS.items():
                order = list(engines) if round_ % 2 == 0 else list(reversed(engines))
                answers = {}
                for side in order:
                    pieces: list[str] = []
                    first: list[float] = []  # the clock at the answer's first text

                    def take(piece: str, pieces: list[str] = pieces, first: list[float] = first):
                        first[:1] = first[:1] or [clock()]
                        pieces.append(piece)

                    stats = engines[side].chat(
                        [{"role": "user", "content": prompt}], sampling, take
                    )
                    ended = clock()
                    seconds = ended - first[0] if first else 0.0
                    speeds.setdefault((task, side), []).append(
                        stats.tokens / seconds if seconds > 0 else 0.0
                    )
                    walls.setdefault((task, side), []).append(stats.tokens_per_second)
                    answers[side] = "".join(pieces)
                plain_answers.setdefault(task, answers["plain"])
                for side in engines:
                    same[task, side] = same.get((task, side), 0) + (
                        answers[side] == answers["plain"]
                    )
                if progress is not None:
                    figures = ", ".join(f"{side} {speeds[task, side][-1]:.1f}" for side in engines)
                    progress(f"round {round_ + 1}/{rounds} {task}: {figures} tok/s")
    finally:
        for engine in engines.values():
            engine.unload()
    result: dict[str, Any] = {
        "rounds": rounds,
        "draft_tokens": draft_tokens,
        "threads": threads,
        "max_tokens": max_tokens,
        "batch_cost": batch_costs(model, threads),
    }
    # what Drafting's Auto would choose here, from this batch cost (draft_policy)
    result["auto"] = "on" if drafting_pays(result["batch_cost"]["9"]) else "off"
    for task in TASKS:
        plain = statistics.median(speeds[task, "plain"])
        row: dict[str, Any] = {"tok_s_plain": round(plain, 2)}
        for side, suffix in (("draft", ""), ("draft_model", "_draft_model")):
            if side in engines:
                tok_s = statistics.median(speeds[task, side])
                row[f"tok_s_{side}"] = round(tok_s, 2)
                ratios = [
                    d / p if p > 0 else 0.0
                    for d, p in zip(speeds[task, side], speeds[task, "plain"], strict=True)
                ]
                row[f"ratio{suffix}"] = round(statistics.median(ratios), 3)
                row[f"wall_ratio{suffix}"] = round(
                    statistics.median(walls[task, side]) / statistics.median(walls[task, "plain"]),
                    3,
                )
                row[f"same_answers{suffix}"] = same[task, side]
        with Vocab(model) as vocab:
            row["copied"] = copied_share(
                vocab.tokenize(TASKS[task]), vocab.tokenize(plain_answers[task])
            )
        result[task] = row
    return result


def copied_share(prompt: list[int], answer: list[int], run: int = 4) -> float:
    """The share of ``answer``'s tokens that follow their previous ``run`` tokens somewhere
    in ``prompt``: what a lookup in the prompt could have guessed, how copy-heavy the task was."""
    follows = {tuple(prompt[i : i + run + 1]) for i in range(len(prompt) - run)}
    guessed = sum(tuple(answer[i - run : i + 1]) in follows for i in range(run, len(answer)))
    return round(guessed / len(answer), 2) if answer else 0.0


def format_draft_result(result: dict[str, Any]) -> str:
    """The result as plain text: one line per task."""
    lines = []
    for task in TASKS:
        row = result[task]
        lines.append(
            f"{task:<5} plain {row['tok_s_plain']:>6.1f} tok/s  draft {row['tok_s_draft']:>6.1f} "
            f"tok/s  ratio {row['ratio']:.3f} (wall clock {row['wall_ratio']:.3f})  same answer {row['same_answers']}/{result['rounds']}  "
            f"copied {row['copied']:.0%}"
        )
        if "tok_s_draft_model" in row:
            lines.append(
                f"{'':<5} with the draft model {row['tok_s_draft_model']:>6.1f} tok/s  ratio "
                f"{row['ratio_draft_model']:.3f}  same answer "
                f"{row['same_answers_draft_model']}/{result['rounds']}"
            )
    costs = result["batch_cost"]
    lines.append(
        f"a batch of {' / '.join(costs)} tokens costs {' / '.join(map(str, costs.values()))} "
        "one-token decodes here: drafting can only gain below those"
    )
    lines.append(
        f"Drafting's Auto: {result['auto']} here (on where a batch of 9 costs {PAYS} or fewer)"
    )
    lines.append(
        f"{result['draft_tokens']} drafted tokens a step, {result['threads']} llama.cpp "
        f"thread(s), medians of {result['rounds']} alternating rounds, greedy"
    )
    return "\n".join(lines)


def batch_costs(model: Path, threads: int, rounds: int = 9) -> dict[str, float]:
    """``{"2": cost, "5": cost, "9": cost}``: what a batch of k tokens, logits on every row,
    costs in one-token decodes (``draft_policy.time_batches``, Auto's measure, here on a
    context of the bench's own): a drafted step decodes the model's token and k - 1 guesses in
    one batch, so it can pay only where a batch of k costs fewer than k decodes, and pays only
    its margin, kept nearly whole."""
    tokens = list(range(1000, 1000 + max(BATCHES)))  # any ids the vocabulary has
    n_ctx = 8 + rounds * (1 + sum(BATCHES)) + 16
    with Evaluator(model, n_ctx=n_ctx, n_batch=max(BATCHES), threads=threads) as evaluator:
        position = 8
        evaluator.decode(tokens[:8], 0, [True] * 8)  # warm up

        def decode(k: int) -> None:
            nonlocal position
            evaluator.decode(tokens[:k], position, [True] * k)
            position += k

        costs = time_batches(decode, BATCHES, rounds)
    return {str(k): cost for k, cost in costs.items()}
