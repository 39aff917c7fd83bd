"""The speed estimate against this machine: the real starter model and quant ladder, generated
by the real llama.cpp in the same test, after the real CPU probe and before any calibration.

The band is generous (0.5-2x): the test machine is shared, and the point is that the formula
tracks reality across quant sizes, not a fixed wall-clock bound. The threads are the ones
Hearth loads with (physical cores but one).
"""

from __future__ import annotations

import time

import psutil

from app.core.fit import devices, speed
from app.core.fit.shape import shape_from_file
from app.core.hardware import cpu_speed

GENERATED = 48


def measured_tok_s(path, threads: int) -> float:
    """Greedy generation after a short prompt, as a chat answer runs: tokens per second."""
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    try:
        llm.eval(llm.tokenize(b"The history of the bicycle begins in"))
        llm.eval([llm.sample(temp=0)])  # the first token warms the caches
        started = time.perf_counter()
        for _ in range(GENERATED):
            llm.eval([llm.sample(temp=0)])
        return GENERATED / (time.perf_counter() - started)
    finally:
        llm.close()


def test_estimated_generation_speed_matches_a_real_run_here(starter_gguf, quant_ladder):
    threads = max(1, (psutil.cpu_count(logical=False) or 2) - 1)
    probe = cpu_speed.measure(psutil.cpu_count(logical=False), "this machine")
    machine = speed.SpeedMachine(devices.cpu_device(probe, threads))
    files = [starter_gguf, quant_ladder["F16"], quant_ladder["Q8_0"], quant_ladder["Q2_K"]]
    ratios = {}
    for path in files:
        predicted = speed.estimate(shape_from_file(path), machine, depth=10).gen_tok_s
        ratios[path.name] = predicted / measured_tok_s(path, threads)
    assert all(0.5 <= r <= 2.0 for r in ratios.values()), ratios
