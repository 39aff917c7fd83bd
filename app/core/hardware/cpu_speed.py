"""How fast this CPU reads memory and multiplies matrices: a short probe, run once and stored.

Generating a token reads every weight once, so its speed follows memory bandwidth; reading a
prompt is matrix multiplication, so it follows compute. No table can say what a given laptop,
VM or desktop gives (the same CPU model differs by memory channels, DIMMs and power limits), so
Hearth measures: a numpy copy of a 64 MiB array (larger than common L3 caches, so it reaches
RAM) on one thread and on every core at once, and a float32 matrix product. About half a second
on a 2-core VM (measured here: 0.4-0.5 s). The result is stored in the app data folder with the
machine's identity (CPU, cores, RAM) and measured again when that changes, or from the
Hardware page.

Each job is timed on the clock of the thread that runs it (``cpu_clock``: its CPU time, where
the system keeps it exactly), so time the core spent on other programs is not counted: measured
here beside other engineers' test runs (load average 7 on 2 cores), the wall clock's best of 5
gave one thread's copy 17-45 GB/s from one probe to the next, the thread's CPU time 38-45 GB/s.
What other programs take from the memory system is still felt, as it should be.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

from app.core.common.json_file import Damaged, read_json, write_json

log = logging.getLogger("hearth.hardware")

FILE_NAME = "cpu_speed.json"
COPY_BYTES = 64 << 20
MATMUL_N, MATMUL_STACK = 64, 512
REPEATS = 5


@dataclass(frozen=True)
class CpuSpeed:
    """What the probe measured, in bytes/s and FLOP/s (best of ``REPEATS``: the machine's
    ability, not its load at that moment)."""

    identity: str  # the machine it was measured on
    bandwidth_one: float  # one thread copying: read + written bytes per second
    bandwidth_all: float  # every core copying at once
    flops_core: float  # float32 matrix product per core
    cores: int
    measured_at: float = 0.0  # Unix time

    def bandwidth(self, threads: int) -> float:
        """Memory bandwidth ``threads`` threads reach: each adds one thread's worth until the
        memory system saturates."""
        return min(
            max(1, threads) * self.bandwidth_one, max(self.bandwidth_all, self.bandwidth_one)
        )

    def flops(self, threads: int) -> float:
        return max(1, min(threads, self.cores)) * self.flops_core


def identity(cpu: str, cores: int, ram_total_bytes: int) -> str:
    """The machine a stored probe belongs to: another CPU or memory size measures again."""
    system = f"{platform.system()} {platform.machine()}"
    return f"{system} | {cpu} | {cores} cores | {ram_total_bytes >> 30} GiB"


def this_machine() -> str:
    """This machine's identity (cheap: /proc/cpuinfo and psutil, no probe)."""
    import psutil

    from app.core.hardware.probe import cpu_name

    cores = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    return identity(cpu_name(), cores, psutil.virtual_memory().total)


def measure(cores: int | None = None, identity_text: str = "") -> CpuSpeed:
    """Run the probe (about half a second; blocks: call it off the GUI thread)."""
    import numpy as np

    cores = max(1, cores or os.cpu_count() or 1)
    # Many small products: OpenBLAS runs a 64x64 product on one thread, so this measures one
    # core. One large product uses every core, and its spinning threads collapse when another
    # program is busy (measured here: 220 GFLOP/s quiet, 14 beside another process; 93 per
    # core either way with 64x64).
    size, stack = MATMUL_N, MATMUL_STACK
    a = np.random.default_rng(0).random((stack, size, size), dtype=np.float32)
    best = min(_timed(lambda: np.matmul(a, a)) for _ in range(REPEATS + 1))
    flops_core = 2 * stack * size**3 / best
    one = _copy_bandwidth(np, 1)
    every = _copy_bandwidth(np, cores) if cores > 1 else one
    return CpuSpeed(identity_text, one, every, flops_core, cores, time.time())


def cpu_clock() -> float:
    """Seconds of CPU time the calling thread has run, where the system counts them exactly
    (Linux, macOS: ``CLOCK_THREAD_CPUTIME_ID``); elsewhere the wall clock (Windows counts a
    thread's time in scheduler ticks of ~16 ms, longer than the jobs timed here). A job timed on
    it is not charged for the time other programs held the core: the speed benchmark times its
    tokens on it too, so both sides are measured alike."""
    return time.perf_counter() if sys.platform == "win32" else time.thread_time()


def _timed(job: Callable[[], object]) -> float:
    started = cpu_clock()
    job()
    return max(cpu_clock() - started, 1e-9)


def _copy_bandwidth(np: ModuleType, threads: int) -> float:
    """Bytes read and written per second by ``threads`` threads each copying its own array
    (numpy releases the GIL while it copies); each copy is timed on its own thread's clock,
    the slowest of them counts."""
    # Each thread's array stays well above a core's share of cache (a many-core server's
    # L3 is hundreds of MiB: 64 MiB split 64 ways would be copied from cache), within a total
    # of 512 MiB.
    per = min(max(COPY_BYTES // threads, 16 << 20), (512 << 20) // threads)
    pairs = [(np.ones(per // 8), np.empty(per // 8)) for _ in range(threads)]
    best = float("inf")
    for _ in range(REPEATS):
        start = threading.Barrier(threads)
        took: list[float] = []

        def copy(pair: tuple[Any, Any], start: threading.Barrier = start) -> None:
            start.wait()
            took.append(_timed(lambda: np.copyto(pair[1], pair[0])))

        workers = [threading.Thread(target=copy, args=(p,)) for p in pairs]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        best = min(best, max(took))
    return 2 * per * threads / max(best, 1e-9)


def _parse(data: Any, _notes: list[str]) -> CpuSpeed:
    if not isinstance(data, dict):
        raise Damaged("it is not a probe result")
    try:
        values = {f.name: data[f.name] for f in fields(CpuSpeed)}
        speed = CpuSpeed(**values)
    except (KeyError, TypeError) as exc:
        raise Damaged(f"a value is missing ({exc})") from None
    numbers = (speed.bandwidth_one, speed.bandwidth_all, speed.flops_core)
    if not all(isinstance(n, (int, float)) and 0 < n < 1e16 for n in numbers):
        raise Damaged("a value is out of range")
    if not isinstance(speed.cores, int) or speed.cores < 1 or not isinstance(speed.identity, str):
        raise Damaged("a value is out of range")
    return speed


def stored(data_dir: Path, identity_text: str) -> CpuSpeed | None:
    """The stored probe of this machine, None when there is none (or it is another's)."""
    loaded = read_json(
        Path(data_dir) / FILE_NAME, "The stored CPU speed probe", _parse, lambda: None
    )
    speed = loaded.value
    return speed if speed is not None and speed.identity == identity_text else None


def load_or_measure(
    data_dir: Path, identity_text: str, cores: int | None = None, *, again: bool = False
) -> CpuSpeed:
    """The stored probe of this machine, else a new one (stored). ``again``: measure anyway
    (the Hardware page's Measure again)."""
    speed = None if again else stored(data_dir, identity_text)
    if speed is None:
        speed = measure(cores, identity_text)
        log.info(
            "CPU probe: %.1f GB/s one thread, %.1f GB/s all cores, %.1f GFLOP/s per core",
            speed.bandwidth_one / 1e9,
            speed.bandwidth_all / 1e9,
            speed.flops_core / 1e9,
        )
        try:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            write_json(Path(data_dir) / FILE_NAME, asdict(speed))
        except OSError as exc:  # a read-only data folder: measured again next time
            log.warning("Could not store the CPU probe: %s", exc)
    return speed
