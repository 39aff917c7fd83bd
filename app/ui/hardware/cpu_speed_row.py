"""The Hardware page's "Memory speed" row: what the CPU probe measured (the figures the speed
estimates rest on), and a button to measure again (after a memory upgrade, or when the first
probe ran while the machine was busy)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.core.hardware import cpu_speed
from app.core.hardware.cpu_speed import CpuSpeed
from app.ui.common.tasks import run_task

Probe = Callable[[bool, int], CpuSpeed]  # (measure again, cores) -> the probe's result
TIP = (
    "Measured on this computer (a memory copy and a matrix product, about half a second). "
    "Generating text reads the whole model for every token, so memory speed sets the "
    "“Speed here” figures."
)


class CpuSpeedRow(QWidget):
    measured = Signal(object)  # CpuSpeed

    def __init__(self, data_dir: Path, probe: Probe | None = None, parent=None) -> None:
        """``probe`` replaces the stored-or-measured probe in tests."""
        super().__init__(parent)
        self._probe = probe or (
            lambda again, cores: cpu_speed.load_or_measure(
                data_dir, cpu_speed.this_machine(), cores, again=again
            )
        )
        self._cores = 1
        self.text = QLabel(
            "…", wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.text.setToolTip(TIP)
        self.button = QPushButton("Measure again", objectName="small")
        self.button.clicked.connect(self.measure_again)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)

    def load(self, cores: int) -> None:
        """The stored probe of this machine (measured now when there is none)."""
        self._start(False, cores)

    @Slot()
    def measure_again(self) -> None:
        self.text.setText("Measuring…")
        self._start(True, self._cores)

    def _start(self, again: bool, cores: int) -> None:
        self._cores = cores
        self.button.setEnabled(False)
        probe = self._probe
        run_task(lambda: probe(again, cores), self._show, self._failed, self)

    @Slot(object)
    def _show(self, speed: CpuSpeed) -> None:
        self.button.setEnabled(True)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(speed.measured_at))
        self.text.setText(
            f"{speed.bandwidth_one / 1e9:.0f} GB/s one core · "
            f"{speed.bandwidth_all / 1e9:.0f} GB/s all {speed.cores} · "
            f"{speed.flops_core / 1e9:.0f} GFLOP/s per core"
        )
        self.text.setToolTip(f"{TIP} Measured on {when}.")
        self.measured.emit(speed)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.button.setEnabled(True)
        self.text.setText(f"Could not measure: {message}")
