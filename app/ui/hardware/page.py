"""Hardware: what this machine has for running models, with live memory, CPU and GPU graphs.

The full probe (``hardware.probe``) runs on the thread pool when the page is built and on
Refresh; while the page is visible a timer takes a cheap ``hardware.live_sample`` (also off
the GUI thread, one at a time) and feeds the graphs and the VRAM bars.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core.common.paths import Paths
from app.core.common.units import format_size
from app.core.hardware import probe as hardware
from app.core.hardware.probe import Gpu, HardwareReport, LiveSample
from app.ui.common.tasks import run_task
from app.ui.hardware.cpu_speed_row import CpuSpeedRow

BUILD_OPTIONS = {"LLAMAFILE", "OPENMP", "REPACK", "ACCELERATE", "KLEIDIAI"}


class Sparkline(QWidget):
    """A small painted line graph of the last ``capacity`` values between 0 and 1."""

    # Said in the box until it has a line to draw: two empty boxes looked broken (issue 19).
    WAITING = "The graph starts with the next reading"

    def __init__(self, color: str = "#ff7a1a", capacity: int = 90, parent=None) -> None:
        super().__init__(parent)
        self.color = QColor(color)
        self.capacity = capacity
        self.points: deque[float] = deque(maxlen=capacity)
        self.setMinimumSize(160, 44)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(240, 48)

    def add(self, value: float) -> None:
        self.points.append(min(1.0, max(0.0, value)))
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        box = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        palette = self.palette()  # the theme's (app/ui/theme.py): a light box was glaring on dark
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(box, 6, 6)
        if len(self.points) < 2:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                box,
                int(Qt.AlignmentFlag.AlignCenter),
                self.fontMetrics().elidedText(
                    self.WAITING, Qt.TextElideMode.ElideRight, int(box.width()) - 12
                ),
            )
            return
        inner = box.adjusted(4, 4, -4, -4)
        # The readings so far across the whole box: two or three of them drawn at the right
        # of a 90-reading box left it looking empty (issue 19). Once full, it scrolls.
        step = inner.width() / (len(self.points) - 1)
        start = inner.left()
        line = QPainterPath()
        for i, value in enumerate(self.points):
            point = QPointF(start + i * step, inner.bottom() - value * inner.height())
            if i:
                line.lineTo(point)
            else:
                line.moveTo(point)
        area = QPainterPath(line)
        area.lineTo(inner.right(), inner.bottom())
        area.lineTo(start, inner.bottom())
        fill = QColor(self.color)
        fill.setAlpha(45)
        painter.fillPath(area, fill)
        painter.setPen(QPen(self.color, 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(line)


class GpuCard(QFrame):
    """One GPU: name, driver details, a VRAM bar, utilization and temperature, a live graph."""

    def __init__(self, gpu: Gpu, numbered: bool = False, parent=None) -> None:
        """``numbered``: another GPU here has the same name, so the title gives its index."""
        super().__init__(parent)
        self.setObjectName("card")
        self.numbered = numbered
        self.title = QLabel(objectName="cardTitle")
        self.details = QLabel(objectName="hint", wordWrap=True)
        self.vram = QProgressBar(textVisible=True)
        self.stats = QLabel(objectName="hint")
        self.graph = Sparkline("#3b7ddd")
        grid = QGridLayout(self)
        grid.setContentsMargins(14, 10, 14, 12)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.details, 1, 0)
        grid.addWidget(self.vram, 2, 0)
        grid.addWidget(self.stats, 3, 0)
        grid.addWidget(self.graph, 0, 1, 4, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        self.show_gpu(gpu)

    def show_gpu(self, gpu: Gpu) -> None:
        self.gpu = gpu
        self.title.setText(f"GPU {gpu.index} · {gpu.name}" if self.numbered else gpu.name)
        self.details.setText(" · ".join([gpu.vendor, *gpu.driver_facts()]))
        total, used = gpu.vram_total_bytes, gpu.vram_used_bytes
        if used is None and gpu.vram_free_bytes is not None:
            used = total - gpu.vram_free_bytes
        if gpu.unified_memory and gpu.vendor == "Apple":
            self.vram.setRange(0, 1)
            self.vram.setValue(0)
            self.vram.setFormat(f"Unified memory · Metal may use {format_size(total)}")
        elif total and used is not None:
            self.vram.setRange(0, 1000)
            self.vram.setValue(round(1000 * used / total))
            self.vram.setFormat(
                f"VRAM {format_size(used)} of {format_size(total)} used "
                f"· {format_size(total - used)} free"
            )
        else:
            self.vram.setRange(0, 1)
            self.vram.setValue(0)
            self.vram.setFormat(f"VRAM {format_size(total)}" if total else "Shared memory")
        stats = []
        if gpu.utilization_percent is not None:
            stats.append(f"{gpu.utilization_percent}% busy")
        if gpu.temperature_c is not None:
            stats.append(f"{gpu.temperature_c} °C")
        self.stats.setText(" · ".join(stats) or "No live readings for this GPU")
        if gpu.utilization_percent is not None:
            self.graph.add(gpu.utilization_percent / 100)
            self.graph.setToolTip("GPU load")
        elif total and used is not None:
            self.graph.add(used / total)
            self.graph.setToolTip("VRAM in use")
        self.graph.setVisible(bool(self.graph.points))

    def show_live(self, live: Gpu) -> None:
        """Take the readings that change from a live sample; keep the probe's name/details."""
        self.show_gpu(
            replace(
                self.gpu,
                vram_free_bytes=live.vram_free_bytes,
                vram_used_bytes=live.vram_used_bytes,
                utilization_percent=live.utilization_percent,
                temperature_c=live.temperature_c,
            )
        )


class HardwarePage(QWidget):
    probed = Signal(object)  # HardwareReport
    sampled = Signal(object)  # LiveSample

    def __init__(
        self,
        paths: Paths,
        probe: Callable[[], HardwareReport] | None = None,
        sample: Callable[[], LiveSample] | None = None,
        interval_ms: int = 2000,
        cpu_probe=None,
    ) -> None:
        """``cpu_probe`` (``CpuSpeedRow``'s probe) replaces the stored CPU speed probe."""
        super().__init__()
        self.paths = paths
        self.speed_row = CpuSpeedRow(paths.data_dir, cpu_probe)
        models_dir = paths.models_dir
        self._probe = probe or (lambda: hardware.probe(models_dir))
        self._sample = sample or hardware.live_sample
        self.report: HardwareReport | None = None
        self.cards: list[GpuCard] = []
        self._sampling = False
        # Its cards, command lines and bars are styled in resources/style.qss, in both themes.
        self._build()
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.take_sample)
        self.refresh()

    def _build(self) -> None:
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setHorizontalSpacing(18)
        self.ram_bar = QProgressBar(textVisible=True, maximum=1000)
        for key, label in (
            ("cpu", "Processor"),
            ("cores", "Cores / threads"),
            ("features", "CPU features"),
            ("ram", "Memory"),
            ("disk", "Free disk for models"),
            ("backend", "llama.cpp build"),
        ):
            self.fields[key] = QLabel(
                "…",
                wordWrap=True,
                textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse,
            )
            form.addRow(label, self.fields[key])
            if key == "ram":
                form.addRow("", self.ram_bar)
                form.addRow("Memory speed", self.speed_row)
        computer = QFrame(objectName="card")
        QVBoxLayout(computer).addLayout(form)

        self.ram_graph, self.cpu_graph = Sparkline("#ff7a1a"), Sparkline("#2f9e6e")
        self.ram_caption = QLabel("Memory in use · reading...", objectName="hint")
        self.cpu_caption = QLabel("CPU load · reading...", objectName="hint")
        live = QFrame(objectName="card")
        graphs = QGridLayout(live)
        graphs.setContentsMargins(14, 10, 14, 12)
        graphs.setHorizontalSpacing(16)
        for column, (graph, caption) in enumerate(
            ((self.ram_graph, self.ram_caption), (self.cpu_graph, self.cpu_caption))
        ):
            graphs.addWidget(caption, 0, column)
            graphs.addWidget(graph, 1, column)

        self.hint_box = QFrame(objectName="card")
        self.hint_text = QLabel(objectName="note", wordWrap=True)
        self.hint_command = QLabel(
            objectName="command",
            wordWrap=True,
            textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse,
        )
        copy = QPushButton("Copy", objectName="small")
        copy.clicked.connect(self.copy_hint)
        row = QHBoxLayout()
        row.addWidget(self.hint_command, 1)
        row.addWidget(copy, 0, Qt.AlignmentFlag.AlignTop)
        hint_layout = QVBoxLayout(self.hint_box)
        hint_layout.addWidget(self.hint_text)
        hint_layout.addLayout(row)
        self.hint_box.hide()

        self.gpu_state = QLabel(objectName="hint", wordWrap=True)
        self.gpu_list = QVBoxLayout()
        self.gpu_list.setSpacing(10)
        self.error = QLabel(objectName="error", wordWrap=True)
        self.error.hide()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)

        content = QWidget(objectName="page")
        layout = QVBoxLayout(content)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.setSpacing(10)
        header = QHBoxLayout()
        header.addWidget(QLabel("Hardware", objectName="pageTitle"))
        header.addStretch(1)
        header.addWidget(self.refresh_button)
        layout.addLayout(header)
        layout.addWidget(self.error)
        layout.addWidget(computer)
        layout.addWidget(live)
        layout.addWidget(QLabel("GPUs", objectName="sectionTitle"))
        layout.addWidget(self.hint_box)
        layout.addWidget(self.gpu_state)
        layout.addLayout(self.gpu_list)
        layout.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    # -- probing ---------------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        run_task(self._probe, self._show, self._show_error, self)

    @Slot()
    def take_sample(self) -> None:
        if self._sampling or self.report is None:
            return  # one sample at a time; a slow probe never piles up
        self._sampling = True
        run_task(self._sample, self._show_sample, self._sample_failed, self)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.timer.start()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.timer.stop()
        super().hideEvent(event)

    @Slot(object)
    def _show(self, report: HardwareReport) -> None:
        self.report = report
        self.refresh_button.setEnabled(True)
        self.error.hide()
        features = [f for f in report.cpu_features if f not in BUILD_OPTIONS]
        self.fields["cpu"].setText(report.cpu)
        self.fields["cores"].setText(f"{report.cores} cores, {report.threads} threads")
        self.fields["features"].setText(", ".join(features) or "none reported")
        self.fields["disk"].setText(format_size(report.disk_free_bytes))
        offload = "GPU offload supported" if report.gpu_offload_supported else "no GPU offload"
        self.fields["backend"].setText(
            f"{report.backend} · {offload} · llama-cpp-python {report.llama_cpp_version}"
        )
        self.fields["backend"].setToolTip(report.backend_details)
        self._show_memory(report.ram_total_bytes, report.ram_available_bytes)
        self._show_hint(report)
        self._show_gpus(report.gpus)
        self.speed_row.load(report.cores)
        if self.isVisible():  # the graphs' first readings now, not a timer's tick later
            self.take_sample()
        self.probed.emit(report)

    @Slot(str)
    def _show_error(self, message: str) -> None:
        self.refresh_button.setEnabled(True)
        self.error.setText(f"Could not read this machine's hardware: {message}")
        self.error.show()

    @Slot(object)
    def _show_sample(self, sample: LiveSample) -> None:
        self._sampling = False
        self._show_memory(sample.ram_total_bytes, sample.ram_available_bytes)
        self.cpu_graph.add(sample.cpu_percent / 100)
        self.cpu_caption.setText(f"CPU load · {sample.cpu_percent:.0f}%")
        by_key = {(g.vendor, g.index): g for g in sample.gpus}
        for card in self.cards:
            live = by_key.get((card.gpu.vendor, card.gpu.index))
            if live is not None:
                card.show_live(live)
        self.sampled.emit(sample)

    @Slot(str)
    def _sample_failed(self, _message: str) -> None:
        self._sampling = False

    def _show_memory(self, total: int, available: int) -> None:
        used = total - available
        self.fields["ram"].setText(f"{format_size(available)} available of {format_size(total)}")
        self.ram_bar.setValue(round(1000 * used / total) if total else 0)
        self.ram_bar.setFormat(f"{format_size(used)} in use")
        self.ram_graph.add(used / total if total else 0)
        self.ram_caption.setText(f"Memory in use · {format_size(used)}")

    def _show_hint(self, report: HardwareReport) -> None:
        self.hint_box.setVisible(bool(report.install_hint))
        if report.install_hint:
            gpus = "GPUs" if len(report.gpus) > 1 else "GPU"
            self.hint_text.setText(
                f"This llama.cpp build ({report.backend}) cannot use the {gpus} below, so models "
                f"run on the CPU. To install an accelerated build (needs "
                f"{report.install_needs}), run:"
            )
            self.hint_command.setText(report.install_hint)

    def _show_gpus(self, gpus: list[Gpu]) -> None:
        for card in self.cards:
            self.gpu_list.removeWidget(card)
            card.deleteLater()
        names = Counter(gpu.name for gpu in gpus)
        self.cards = [GpuCard(gpu, numbered=names[gpu.name] > 1) for gpu in gpus]
        for card in self.cards:
            self.gpu_list.addWidget(card)
        report = self.report
        if report is None:  # the cards come with a report: not before one
            return
        if not report.nvidia_gpus:
            reason = f" ({report.nvidia_status})" if report.nvidia_status else ""
            after = "" if gpus else " Models run on the CPU."
            self.gpu_state.setText(f"No NVIDIA GPU found{reason}.{after}")
        self.gpu_state.setVisible(not report.nvidia_gpus)

    @Slot()
    def copy_hint(self) -> None:
        QGuiApplication.clipboard().setText(self.hint_command.text())
