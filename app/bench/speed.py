"""The speed estimate's accuracy benchmark: predicted generation speed against a real run here.

After the one-time CPU probe (measured afresh, not read from the data folder) and before any
calibration (no stored runs are used), each file's generation speed is predicted
(``fit.speed``) and then measured: the real llama.cpp, as many threads as Hearth loads with
(physical cores but one), a short prompt, then greedy generation of ``tokens`` tokens one
``eval`` at a time, with llama-cpp-python's sampler as a chat answer uses it. The first
generated token is left out of the timing (it warms the caches).

Each token is timed alone and ``measured_tok_s`` is one over the median token's time:
on a machine other programs share, the mean counts the time they held the core (measured
here beside other engineers' test runs, load average 10 on 2 cores: a tiny model's mean
token took 2.6 ms, its median 0.9 ms, its fastest 0.5 ms). ``mean_tok_s`` is kept beside it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

PROMPT = b"The history of the bicycle begins in"
TOKENS = 64


def measure_generation(path: Path, threads: int, tokens: int = TOKENS) -> tuple[float, float]:
    """Tokens per second generating ``tokens`` tokens after a short prompt: at the median
    token's time, and on average."""
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    try:
        llm.eval(llm.tokenize(PROMPT))
        llm.eval([llm.sample(temp=0)])
        times = []
        for _ in range(tokens):
            started = time.perf_counter()
            llm.eval([llm.sample(temp=0)])
            times.append(time.perf_counter() - started)
        return 1.0 / statistics.median(times), tokens / sum(times)
    finally:
        llm.close()


def run_speed_benchmark(
    files: list[Path],
    tokens: int = TOKENS,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per file: ``file``, ``arch``, ``quant``, ``params``, ``predicted_tok_s``,
    ``measured_tok_s``, ``ratio`` (predicted / measured), ``mean_tok_s``, ``threads``."""
    import psutil

    from app.core.fit import devices, speed
    from app.core.fit.shape import shape_from_file
    from app.core.hardware import cpu_speed

    cores = psutil.cpu_count(logical=False) or 1
    threads = max(1, cores - 1)  # as Engine.default_threads
    probe = cpu_speed.measure(cores, cpu_speed.this_machine())
    machine = speed.SpeedMachine(devices.cpu_device(probe, threads))
    rows = []
    for path in files:
        shape = shape_from_file(path)
        depth = len(PROMPT) // 4 + tokens // 2  # about the tokens in context while timed
        estimated = speed.estimate(shape, machine, depth=depth)
        assert estimated is not None  # None only for layers on a GPU; these run on the CPU
        predicted = estimated.gen_tok_s
        measured, mean = measure_generation(path, threads, tokens)
        rows.append(
            {
                "file": path.name,
                "arch": shape.architecture,
                "quant": shape.quant,
                "params": sum(t.n_elements for t in shape.tensors),
                "predicted_tok_s": round(predicted, 2),
                "measured_tok_s": round(measured, 2),
                "ratio": round(predicted / measured, 3),
                "mean_tok_s": round(mean, 2),
                "threads": threads,
            }
        )
        if progress is not None:
            progress(f"{path.name}: predicted {predicted:.1f}, measured {measured:.1f} tok/s")
    return rows


def format_speed_table(rows: list[dict]) -> str:
    """The rows as a plain-text table, with the worst ratio at the end."""
    width = max([len(r["file"]) for r in rows] + [4])
    out = [
        f"{'FILE':<{width}}  {'ARCH':<13}  {'PARAMS':>7}  {'PREDICTED':>10}  {'MEASURED':>10}  RATIO"
    ]
    for r in rows:
        out.append(
            f"{r['file']:<{width}}  {r['arch']:<13}  {r['params'] / 1e6:>6.0f}M  "
            f"{r['predicted_tok_s']:>6.1f} t/s  "
            f"{r['measured_tok_s']:>6.1f} t/s  {r['ratio']:.3f}"
        )
    if rows:
        worst = max(rows, key=lambda r: abs(r["ratio"] - 1))
        out.append(
            f"Worst ratio: {worst['ratio']:.3f} ({worst['file']}); "
            f"{rows[0]['threads']} llama.cpp thread(s), before any calibration"
        )
    return "\n".join(out)
