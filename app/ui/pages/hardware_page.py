"""Hardware: what this machine has, read off the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFormLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core import hardware
from app.core.hardware import HardwareReport
from app.core.paths import Paths
from app.core.units import format_size
from app.ui.tasks import run_task


class HardwarePage(QWidget):
    def __init__(self, paths: Paths) -> None:
        super().__init__()
        self.paths = paths
        self.form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for key, label in (("cpu", "Processor"), ("cores", "Cores / threads"),
                           ("ram", "Memory (available / total)"), ("disk", "Free disk for models"),
                           ("backend", "llama.cpp backend"), ("gpus", "GPUs")):
            self.fields[key] = QLabel("...")
            self.form.addRow(label, self.fields[key])
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(QLabel("Hardware", objectName="pageTitle"))
        layout.addLayout(self.form)
        layout.addStretch(1)
        layout.addWidget(refresh)
        self.report: HardwareReport | None = None
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        models_dir = self.paths.models_dir
        run_task(lambda: hardware.probe(models_dir), self._show, self._show_error, self)

    @Slot(object)
    def _show(self, report: HardwareReport) -> None:
        self.report = report
        self.fields["cpu"].setText(report.cpu)
        self.fields["cores"].setText(f"{report.cores} / {report.threads}")
        self.fields["ram"].setText(f"{format_size(report.ram_available_bytes)} / "
                                   f"{format_size(report.ram_total_bytes)}")
        self.fields["disk"].setText(format_size(report.disk_free_bytes))
        self.fields["backend"].setText(report.backend)
        self.fields["gpus"].setText(", ".join(g.name for g in report.gpus) or "No GPU found")

    @Slot(str)
    def _show_error(self, message: str) -> None:
        self.fields["cpu"].setText(message)
