"""``MachineInfo``: this machine's hardware report, probed once and shared by every page.

A probe asks NVML, sysfs, ``system_profiler`` or ``vulkaninfo`` and llama.cpp's build (tens to
hundreds of milliseconds, seconds with a slow driver); the studio used to run it once per page
that estimates a fit (Discover, a model's page, the quant pickers, Compare, Hardware). Now the
studio builds one ``MachineInfo`` at start: the first caller probes (on a worker thread), the
others get that report; a report older than ``max_age_s`` is probed again, since free memory
moves; ``refresh()`` probes at once (the Hardware page's Refresh). Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the probe is imported when first taken
    from app.core.fit.estimate import Machine
    from app.core.fit.speed_here import SpeedHere
    from app.core.hardware.probe import HardwareReport

MAX_AGE_S = 60.0


class MachineInfo:
    def __init__(
        self,
        models_dir: Path,
        probe: Callable[[], HardwareReport] | None = None,
        max_age_s: float = MAX_AGE_S,
        data_dir: Path | None = None,
    ) -> None:
        """``data_dir``: where the CPU speed probe and the measured speeds are kept (default:
        Hearth's data folder)."""
        self._models_dir = Path(models_dir)
        self._data_dir = data_dir
        self._probe = probe
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._report: HardwareReport | None = None
        self._taken = 0.0
        self.probes = 0  # how many times the machine was probed (tests count them)

    def report(self) -> HardwareReport:
        """The hardware report, probing when there is none or it is older than ``max_age_s``.
        Blocks while it probes: call it off the GUI thread."""
        with self._lock:
            if self._report is None or time.monotonic() - self._taken > self.max_age_s:
                return self._take()
            return self._report

    def refresh(self) -> HardwareReport:
        """Probe now, whatever the age of the last report."""
        with self._lock:
            return self._take()

    def machine(self) -> Machine:
        """What the fit estimate needs of this machine (``fit.Machine``)."""
        from app.core.fit import estimate

        return estimate.Machine.from_report(self.report())

    def speeds(self, *, measure_again: bool = False) -> SpeedHere:
        """This machine's speed figures (``fit.speed_here.SpeedHere``): the report, the stored
        CPU probe (measured on first use, about half a second; ``measure_again``: now) and the
        measured runs, read afresh so new runs count. Blocks: call it off the GUI thread."""
        from app.core.common.paths import default_paths
        from app.core.fit.speed_here import SpeedHere

        data_dir = self._data_dir or default_paths().data_dir
        return SpeedHere.for_report(self.report(), data_dir, measure_again=measure_again)

    def _take(self) -> HardwareReport:
        if self._probe is not None:
            report = self._probe()
        else:
            from app.core.hardware import probe

            report = probe.probe(self._models_dir)
        self._report, self._taken = report, time.monotonic()
        self.probes += 1
        return report
