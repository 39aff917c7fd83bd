"""Speed figures for this machine: the formula (``fit.speed``), moved toward the user's runs.

``SpeedHere.speed(shape, gpu_layers, depth)`` gives, best first:

* ``measured``: this very file (same name and size) was measured here; its median speed,
  carried to the asked depth by the formula's own ratio between the two depths;
* ``calibrated``: other files were measured here; the estimate times the median ratio of
  measured to estimated over the newest ``CALIBRATION_RUNS`` runs (each run's estimate made
  with its own depth, GPU layers and threads). A median, so one answer slowed by another busy
  program does not move every figure;
* ``estimated``: the formula alone.

Only generation is calibrated: a chat answer's prompt time includes the prompt cache's
reuse, so it is no measure of prompt speed.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.common.errors import HearthError
from app.core.fit import speed_log
from app.core.fit.shape import ModelShape, shape_from_file
from app.core.fit.speed import CALIBRATED, MEASURED, Speed, SpeedMachine, estimate

if TYPE_CHECKING:
    from app.core.hardware.probe import HardwareReport

log = logging.getLogger("hearth.fit")

CALIBRATION_RUNS = 30
FACTOR_LIMITS = (0.1, 10.0)


class SpeedHere:
    def __init__(
        self,
        machine_for: Callable[[int], SpeedMachine],
        threads: int,
        runs: Sequence[speed_log.Run] = (),
        shape_of: Callable[[str], ModelShape | None] | None = None,
    ) -> None:
        """``machine_for(threads)``: this machine's devices with that many llama.cpp threads;
        ``threads``: what a model loads with here; ``runs``: this machine's measured runs;
        ``shape_of(path)``: a run's file's shape (None when it is gone)."""
        self.machine_for = machine_for
        self.machine = machine_for(threads)
        self.runs = list(runs)
        self._shape_of = shape_of or _shape_of_file
        self.factor = self._factor()

    @classmethod
    def for_report(
        cls, report: HardwareReport, data_dir: Path, *, measure_again: bool = False
    ) -> SpeedHere:
        """This machine from its hardware report, the stored CPU probe (measured now, about
        half a second, when there is none) and the stored runs. Blocks: off the GUI thread."""
        from app.core.hardware import cpu_speed

        me = cpu_speed.this_machine()
        probe = cpu_speed.load_or_measure(data_dir, me, report.cores, again=measure_again)
        threads = max(1, report.cores - 1)  # as Engine.default_threads loads a model

        def machine_for(n: int) -> SpeedMachine:
            return SpeedMachine.from_report(report, probe, n)

        return cls(machine_for, threads, speed_log.runs(data_dir, me))

    def speed(
        self, shape: ModelShape, gpu_layers: int = 0, depth: int = 0, cpu_moe_layers: int = 0
    ) -> Speed | None:
        """This file's speed here with ``gpu_layers`` on the GPU (the experts of the first
        ``cpu_moe_layers`` in RAM) and ``depth`` tokens in the context; None when it cannot be
        told (layers on a GPU of unknown speed)."""
        guess = estimate(shape, self.machine, gpu_layers, depth, cpu_moe_layers=cpu_moe_layers)
        if guess is None:
            return None
        own = [r for r in self.runs if r.name == shape.name and r.size == shape.file_size]
        if own:
            carried = []
            for run in own:
                at_run = self._predict(run, shape)
                if at_run:
                    carried.append(run.tok_s * guess.gen_tok_s / at_run)
            if carried:
                return replace(guess, gen_tok_s=statistics.median(carried), basis=MEASURED)
        if self.factor is not None:
            return replace(guess, gen_tok_s=guess.gen_tok_s * self.factor, basis=CALIBRATED)
        return guess

    def _predict(self, run: speed_log.Run, shape: ModelShape | None = None) -> float | None:
        """The formula's generation speed for a stored run, in its own conditions."""
        shape = shape or self._shape_of(run.path)
        if shape is None:
            return None
        machine = self.machine_for(max(1, run.threads))
        layers = shape.offload_layers if run.gpu_layers < 0 else run.gpu_layers
        guess = estimate(shape, machine, layers if machine.gpu else 0, run.depth)
        return guess.gen_tok_s if guess else None

    def _factor(self) -> float | None:
        ratios = []
        for run in self.runs[-CALIBRATION_RUNS:]:
            predicted = self._predict(run)
            if predicted:
                ratios.append(run.tok_s / predicted)
        if not ratios:
            return None
        low, high = FACTOR_LIMITS
        return min(high, max(low, statistics.median(ratios)))


def _shape_of_file(path: str) -> ModelShape | None:
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _cached_shape(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _cached_shape(path: str, _size: int, _mtime: int) -> ModelShape | None:
    try:
        return shape_from_file(path)
    except (HearthError, OSError, ValueError) as exc:
        log.info("No speed calibration from %s: %s", path, exc)
        return None
