"""The speed estimate's accuracy benchmark: predicted generation speed against a real run here.

Each file's generation speed is predicted (``fit.speed``) from the CPU probe
(``hardware.cpu_speed.measure``, run afresh here, the stored one untouched) and before any
calibration (no stored runs are used), then measured: the real llama.cpp, as many threads as
Hearth loads with (physical cores but one), a short prompt, then greedy generation one ``eval``
at a time, with llama-cpp-python's sampler as a chat answer uses it.

A shared machine moves under a measurement: beside other engineers' test runs (load average
6-10 on 2 cores) the same token's wall time ranged over 2-4x from one second to the next, and a
probe taken a minute before the run saw another machine. So the two sides are taken under the
same conditions, in rounds: each file is loaded once, then ``rounds`` times the probe runs and
``tokens`` tokens are generated right after it; each round's prediction comes from its own
probe. Both sides are timed on the clock of the thread doing the work (``cpu_speed.cpu_clock``:
its CPU time), so the time other programs held the core counts on neither side, while what they
take from the caches and the memory bus counts on both. Both sides take their best: the probe
the best of its repeats, a round its fastest token (``measured_tok_s``: one over it). Measured
here at load average 4-7 on 2 cores, the rounds' ratios of one file (the zoo's medium llama
in Q4_1) spread 0.59-1.22 by the median token in one run and 0.89-0.95 by the fastest in the
next: the probe's best is the machine's ability, not its load, and so is the fastest token. A row gives the median of its rounds (its ``ratio``: the median round's ratio, and
the lowest and highest beside it); ``median_token_tok_s`` (the median token on the thread's
clock) and ``wall_tok_s`` (on the wall clock: what this machine gave at the time) are printed
for reference. The first generated token is left out (it warms the caches). With more than one
thread the calling thread's clock is the token's: it takes a share of every product and waits
for the others, spinning.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

PROMPT = b"The history of the bicycle begins in"
ROUNDS = 9  # a row's median: 5 rounds left a run's ratios ±7% from the next run's
TOKENS = 16  # per round


class _Generation:
    """One file loaded for the benchmark's rounds: greedy tokens, each timed alone."""

    def __init__(self, path: Path, threads: int) -> None:
        from llama_cpp import Llama

        self.llm = Llama(
            str(path), n_ctx=512, n_threads=threads, n_threads_batch=threads, verbose=False
        )
        self.llm.eval(self.llm.tokenize(PROMPT))
        self.llm.eval([self.llm.sample(temp=0)])

    @property
    def depth(self) -> int:
        return self.llm.n_tokens

    def tokens(self, count: int) -> tuple[list[float], list[float]]:
        """Seconds per token of ``count`` greedy tokens: on the thread's clock, on the wall."""
        from app.core.hardware.cpu_speed import cpu_clock

        own, wall = [], []
        for _ in range(count):
            token = self.llm.sample(temp=0)
            started, started_cpu = time.perf_counter(), cpu_clock()
            self.llm.eval([token])
            own.append(cpu_clock() - started_cpu)
            wall.append(time.perf_counter() - started)
        return own, wall

    def close(self) -> None:
        self.llm.close()


def run_speed_benchmark(
    files: list[Path],
    tokens: int = TOKENS,
    rounds: int = ROUNDS,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per file: ``file``, ``arch``, ``quant``, ``params``, ``predicted_tok_s``,
    ``measured_tok_s``, ``ratio`` (predicted / measured), ``ratio_low``, ``ratio_high``,
    ``wall_tok_s``, ``probe_gb_s`` and ``probe_gflops`` (the rounds' median probe, for
    ``threads``), ``threads``, ``rounds``."""
    import psutil

    from app.core.fit import devices, speed
    from app.core.fit.shape import shape_from_file
    from app.core.hardware import cpu_speed

    cores = psutil.cpu_count(logical=False) or 1
    threads = max(1, cores - 1)  # as Engine.default_threads
    identity = cpu_speed.this_machine()
    rows = []
    for path in files:
        shape = shape_from_file(path)
        predicted, measured, typical, walls, ratios, probes = [], [], [], [], [], []
        generation = _Generation(path, threads)
        try:
            for _ in range(rounds):
                probe = cpu_speed.measure(cores, identity)  # next to this round's tokens
                machine = speed.SpeedMachine(devices.cpu_device(probe, threads))
                depth = generation.depth + tokens // 2  # the tokens in context while timed
                estimated = speed.estimate(shape, machine, depth=depth)
                assert estimated is not None  # None only for layers on a GPU; none here
                own, wall = generation.tokens(tokens)
                probes.append(probe)
                predicted.append(estimated.gen_tok_s)
                measured.append(1.0 / min(own))
                typical.append(1.0 / statistics.median(own))
                walls.append(1.0 / statistics.median(wall))
                ratios.append(predicted[-1] / measured[-1])
        finally:
            generation.close()
        row = {
            "file": path.name,
            "arch": shape.architecture,
            "quant": shape.quant,
            "params": sum(t.n_elements for t in shape.tensors),
            "predicted_tok_s": round(statistics.median(predicted), 2),
            "measured_tok_s": round(statistics.median(measured), 2),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_low": round(min(ratios), 3),
            "ratio_high": round(max(ratios), 3),
            "median_token_tok_s": round(statistics.median(typical), 2),
            "wall_tok_s": round(statistics.median(walls), 2),
            "probe_gb_s": round(statistics.median(p.bandwidth(threads) for p in probes) / 1e9, 1),
            "probe_gflops": round(statistics.median(p.flops(threads) for p in probes) / 1e9, 1),
            "threads": threads,
            "rounds": rounds,
        }
        rows.append(row)
        if progress is not None:
            progress(
                f"{path.name}: predicted {row['predicted_tok_s']:.1f}, measured "
                f"{row['measured_tok_s']:.1f} tok/s, ratio {row['ratio']:.3f}"
            )
    return rows


def format_speed_table(rows: list[dict]) -> str:
    """The rows as a plain-text table, with the worst ratio at the end."""
    width = max([len(r["file"]) for r in rows] + [4])
    out = [
        f"{'FILE':<{width}}  {'ARCH':<13}  {'PARAMS':>7}  {'PREDICTED':>10}  {'MEASURED':>10}  "
        f"RATIO  {'ROUNDS':<11}  {'WALL':>10}"
    ]
    for r in rows:
        out.append(
            f"{r['file']:<{width}}  {r['arch']:<13}  {r['params'] / 1e6:>6.0f}M  "
            f"{r['predicted_tok_s']:>6.1f} t/s  {r['measured_tok_s']:>6.1f} t/s  "
            f"{r['ratio']:.3f}  {r['ratio_low']:.2f}-{r['ratio_high']:.2f}  "
            f"{r['wall_tok_s']:>6.1f} t/s"
        )
    if rows:
        worst = max(rows, key=lambda r: abs(r["ratio"] - 1))
        out.append(
            f"Worst ratio: {worst['ratio']:.3f} ({worst['file']}); "
            f"{rows[0]['threads']} llama.cpp thread(s), {rows[0]['rounds']} rounds of probe "
            "then tokens per file, before any calibration"
        )
    return "\n".join(out)
