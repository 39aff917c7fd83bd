"""The Chart tab: size against quality of the measured files, with the published typical
figures beside them, and a speed chart. Exports the charts as PNG and the table as CSV.

Quality is mean KL divergence from the reference file on a log axis (the reference itself is
0, so it is not drawn). The typical points are llama.cpp's published figures
(``app.core.quants.quality``), each placed at the size this model would have at that quant's bits per
weight (the published file's size over the published F16 file's, times 16). Every dot is
labelled with its quant on the chart itself (a per-point label, ``QXYSeries`` point
configuration), so the chart reads without hovering; hovering adds the figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QLineSeries,
    QLogValueAxis,
    QScatterSeries,
    QValueAxis,
    QXYSeries,
)
from PySide6.QtCore import QEvent, QPointF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.common.units import format_size
from app.core.measure.measurement import Comparison, FileMeasurement
from app.core.quants import quality
from app.ui.compare.results_model import ResultsModel

MB = 1e6
COLORS = ("#ff7a1a", "#2f6fdb", "#1e9e6a", "#8a4fd1")  # one per text measured
TYPICAL_COLOR = "#8a93a6"


def ask_save_path(parent: QWidget, title: str, name: str, filter_: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, title, name, filter_)
    return path


def typical_points(rows: list[FileMeasurement]) -> list[tuple[str, float, float]]:
    """(quant, size in bytes, mean KLD) of the published figures at this model's sizes."""
    measured = next((r for r in rows if r.bits_per_weight > 0), None)
    table = quality.load_published()
    if measured is None or "F16" not in table:
        return []
    parameters = measured.size_bytes * 8 / measured.bits_per_weight
    f16_gib = table["F16"].size_gib
    points = []
    for q in table.values():
        if q.mean_kld is None:
            continue
        bpw = 16 * q.size_gib / f16_gib
        points.append((q.quant, parameters * bpw / 8, q.mean_kld))
    return sorted(points, key=lambda p: p[1])


def _tip(row: FileMeasurement) -> str:
    text = "bundled text" if row.text == "bundled" else row.text
    return (
        f"{row.name}\n{row.quant or '?'} · {format_size(row.size_bytes)} · "
        f"{row.bits_per_weight:.2f} bits/weight\n"
        f"KL divergence {row.kld:.4f} · same top {row.same_top_pct:.1f}%\n"
        f"perplexity {row.ppl:.2f} on {text}\n"
        f"{row.tok_s:.1f} tok/s generation · {row.prompt_tok_s:.0f} tok/s prompt"
    )


EMPTY_SHORT = "measure two or more files of one model on the Measure tab first."
EMPTY = (
    "Measure two or more files to see the chart: on the Measure tab, tick the original "
    "(or its largest file) and the quants you want to compare, then Measure. The chart "
    "shows each file's size against how far its answers move from the original's."
)


class QualityChart(QWidget):
    measure_requested = Signal()  # "Go to Measure": the page opens its Measure tab

    def __init__(
        self,
        results: ResultsModel,
        save_path: Callable[[QWidget, str, str, str], str] = ask_save_path,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.results = results
        self._save_path = save_path
        self.tips: dict[int, list[tuple[QPointF, str]]] = {}  # id(series) -> points, tips
        self.last_tip = ""

        self.quality = QChart()
        self.speed = QChart()
        self.comparisons: list[Comparison] = []  # drawn now (drawn again in a new theme)
        self.dark: bool | None = None  # the charts' theme: None until chosen
        views = QHBoxLayout()
        for chart, stretch in ((self.quality, 5), (self.speed, 4)):
            chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
            chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
            view = QChartView(chart)
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            view.setMinimumHeight(220)  # 360 made the Compare page taller than a 640-px window
            views.addWidget(view, stretch)
            if chart is self.quality:
                self.quality_view = view  # its tooltip shows the figures of the dot pointed at
        self.details = QLabel("Point at a dot for its figures.", objectName="hint", wordWrap=True)
        self.charts = QWidget()
        self.charts.setLayout(views)
        # What to do first, in place of two empty charts (they looked broken, issue 19).
        self.empty = QLabel(EMPTY, objectName="note", wordWrap=True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.measure_button = QPushButton("Go to Measure", objectName="primary")
        self.measure_button.clicked.connect(self.measure_requested)
        self.empty_box = QWidget()
        empty = QVBoxLayout(self.empty_box)
        empty.addStretch(1)
        empty.addWidget(self.empty)
        empty.addWidget(self.measure_button, 0, Qt.AlignmentFlag.AlignCenter)
        empty.addStretch(2)
        self.source = QLabel(objectName="hint", wordWrap=True)
        self.png_button = QPushButton("Export PNG...")
        self.png_button.clicked.connect(self._export_png_clicked)
        self.csv_button = QPushButton("Export CSV...")
        self.csv_button.clicked.connect(self._export_csv_clicked)
        self.status = QLabel(objectName="hint", wordWrap=True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.png_button)
        buttons.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.addWidget(self.charts, 1)
        layout.addWidget(self.empty_box, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.source)
        layout.addLayout(buttons)
        self._theme_charts()
        self.set_comparisons([])

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._theme_charts():
            self.set_comparisons(self.comparisons)  # the series take the new theme's colours

    def _theme_charts(self) -> bool:
        """Qt Charts' own dark theme in Hearth's dark one (a white chart glared on it), its
        light one in the light theme, following View > Theme (the charts kept the theme the
        page was built in). Returns whether the theme changed."""
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        if dark == self.dark:
            return False
        self.dark = dark
        for chart in (self.quality, self.speed):
            chart.setTheme(
                QChart.ChartTheme.ChartThemeDark if dark else QChart.ChartTheme.ChartThemeLight
            )
            if dark:
                chart.setBackgroundBrush(self.palette().color(QPalette.ColorRole.Base))
            chart.setBackgroundRoundness(8)
        return True

    # Drawing -----------------------------------------------------------------------------

    @Slot(list)
    def set_comparisons(self, comparisons: list[Comparison]) -> None:
        self.comparisons = list(comparisons)
        self.tips.clear()
        self.details.setText("Point at a dot for its figures.")
        self._draw_quality(comparisons)
        self._draw_speed(comparisons)
        has_rows = any(c.rows for c in comparisons)
        self.png_button.setEnabled(has_rows)
        self.csv_button.setEnabled(has_rows)
        for button in (self.png_button, self.csv_button):
            button.setToolTip("" if has_rows else "Nothing to export yet: " + EMPTY_SHORT)
        self.charts.setVisible(has_rows)
        self.details.setVisible(has_rows)
        self.source.setVisible(has_rows)
        self.empty_box.setVisible(not has_rows)
        self.source.setText(
            "Grey points: what each quant type usually does, from "
            f"{quality.PLAIN_SOURCE}, each placed at the size this model would have at that "
            "type. Small models lose more to quantization than 8B ones, so your points "
            "usually sit above them."
        )
        self.source.setToolTip(f"Source: {quality.SOURCE}")

    def _draw_quality(self, comparisons: list[Comparison]) -> None:
        chart = self.quality
        _reset(chart)
        rows = [r for c in comparisons for r in c.rows]
        if not rows:
            chart.setTitle("Measure files on the Measure tab to chart them here")
            return
        reference = Path(comparisons[0].reference).name
        chart.setTitle(f"Size vs quality (lower is closer to {reference})")
        all_points: list[tuple[float, float]] = []
        for number, comparison in enumerate(comparisons):
            points = sorted(
                (r.size_bytes / MB, r.kld, _tip(r), r.quant or r.name)
                for r in comparison.rows
                if not r.reference and r.kld > 0 and math.isfinite(r.kld)
            )
            text = "bundled text" if comparison.text == "bundled" else comparison.text
            color = QColor(COLORS[number % len(COLORS)])
            self._add_points(f"Measured ({text})", points, color, 11, solid=True)
            all_points += [(x, y) for x, y, _, _ in points]
        typical = [
            (
                size / MB,
                kld,
                f"Typical {quant} (Llama-3-8B, llama.cpp)\n"
                f"KL divergence {kld:.4f}\nplaced at {format_size(size)} for this model",
                quant,
            )
            for quant, size, kld in typical_points(rows)
        ]
        self._add_points(
            "Typical per quant (published, at this model's size)",
            typical,
            QColor(TYPICAL_COLOR),
            8,
            solid=False,
        )
        all_points += [(x, y) for x, y, _, _ in typical]
        x_axis = QValueAxis()
        x_axis.setTitleText("File size (MB)")
        x_axis.setLabelFormat("%.0f")
        xs = [x for x, _ in all_points] or [r.size_bytes / MB for r in rows]
        span = max(xs) - min(xs) or 1
        x_axis.setRange(max(min(xs) - span * 0.08, 0), max(xs) + span * 0.08)
        x_axis.applyNiceNumbers()
        y_axis = QLogValueAxis()
        y_axis.setBase(10)
        y_axis.setTitleText("Difference from the original (KL divergence)")
        y_axis.setLabelFormat("%.3g")
        y_axis.setMinorTickCount(-1)
        ys = [y for _, y in all_points] or [0.01]
        y_axis.setRange(min(ys) / 1.6, max(ys) * 1.6)
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        for series in chart.series():
            series.attachAxis(x_axis)
            series.attachAxis(y_axis)

    def _add_points(
        self,
        name: str,
        points: list[tuple[float, float, str, str]],
        color: QColor,
        size: float,
        solid: bool,
    ) -> None:
        if not points:
            return
        line = QLineSeries()
        pen = QPen(color, 2.2 if solid else 1.4)
        if not solid:
            pen.setStyle(Qt.PenStyle.DashLine)
        line.setPen(pen)
        dots = QScatterSeries()
        dots.setName(name)
        dots.setMarkerSize(size)
        dots.setColor(color)
        dots.setBorderColor(QColor("white") if solid else color)
        for x, y, _tip_text, _label in points:
            line.append(x, y)
            dots.append(x, y)
        self._label(dots, [label for *_, label in points], color if solid else None)
        self.tips[id(dots)] = [(QPointF(x, y), tip) for x, y, tip, _ in points]
        dots.hovered.connect(lambda point, state, series=dots: self._hover(series, point, state))
        self.quality.addSeries(line)
        self.quality.addSeries(dots)
        self.quality.legend().markers(line)[0].setVisible(False)

    def _label(self, dots: QScatterSeries, labels: list[str], color: QColor | None) -> None:
        """Each dot's quant written beside it (measured: bold in its colour; typical: grey)."""
        font = self.font()
        font.setBold(color is not None)
        if color is None:
            font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        dots.setPointLabelsFont(font)
        dots.setPointLabelsColor(color or self.palette().color(QPalette.ColorRole.PlaceholderText))
        dots.setPointLabelsClipping(False)
        for index, label in enumerate(labels):
            dots.setPointConfiguration(
                index,
                {
                    QXYSeries.PointConfiguration.LabelVisibility: True,
                    QXYSeries.PointConfiguration.LabelFormat: label,
                },
            )

    def labels(self, series: QScatterSeries) -> list[str]:
        """The labels written beside the dots of ``series``, in point order."""
        return [
            series.pointConfiguration(i).get(QXYSeries.PointConfiguration.LabelFormat, "")
            for i in range(series.count())
        ]

    def _draw_speed(self, comparisons: list[Comparison]) -> None:
        chart = self.speed
        _reset(chart)
        if not comparisons or not comparisons[0].rows:
            chart.setTitle("Speed")
            return
        rows = comparisons[0].rows  # speed hardly depends on the text: the first one's
        threads = rows[0].threads
        chart.setTitle(f"Generation speed here ({threads} CPU thread{'s' * (threads != 1)})")
        bars = QBarSet("Generation tokens/s")
        bars.setColor(QColor(COLORS[0]))
        rows = tuple(reversed(rows))  # horizontal bars fill from the bottom: largest on top
        for row in rows:
            bars.append(round(row.tok_s, 1) if math.isfinite(row.tok_s) else 0.0)
        series = QHorizontalBarSeries()
        series.append(bars)
        series.setLabelsVisible(True)
        series.setLabelsFormat("@value")
        series.setLabelsPrecision(4)
        chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append([r.quant or r.name for r in rows])
        values = QValueAxis()
        values.setTitleText("tokens/s (longer is faster)")
        values.setLabelFormat("%.0f")
        values.setRange(0, max([r.tok_s for r in rows if math.isfinite(r.tok_s)] + [1]) * 1.15)
        values.applyNiceNumbers()
        chart.addAxis(categories, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(values, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(categories)
        series.attachAxis(values)

    # Hover -------------------------------------------------------------------------------

    def tip_at(self, series, point: QPointF) -> str:
        """The tooltip of the point of ``series`` nearest ``point``."""
        entries = self.tips.get(id(series), [])
        if not entries:
            return ""
        nearest = min(
            entries,
            key=lambda e: (
                (e[0].x() - point.x()) ** 2
                + (math.log10(e[0].y()) - math.log10(max(point.y(), 1e-12))) ** 2
            ),
        )
        return nearest[1]

    def _hover(self, series, point: QPointF, state: bool) -> None:
        # The chart view's tooltip shows when the pointer rests; the line below the charts
        # keeps the figures of the last point hovered.
        self.last_tip = self.tip_at(series, point) if state else ""
        self.quality_view.setToolTip(self.last_tip)
        if state:
            self.details.setText(self.last_tip.replace("\n", "  ·  "))

    # Export ------------------------------------------------------------------------------

    def export_png(self, path: Path) -> None:
        if not self.charts.grab().save(str(path), "PNG"):
            raise OSError(f"The picture could not be saved to {path}.")

    def export_csv(self, path: Path) -> None:
        self.results.write_csv(Path(path))

    @Slot()
    def _export_png_clicked(self) -> None:
        self._export("Export chart", "hearth-compare.png", "PNG images (*.png)", self.export_png)

    @Slot()
    def _export_csv_clicked(self) -> None:
        self._export("Export results", "hearth-compare.csv", "CSV files (*.csv)", self.export_csv)

    def _export(self, title: str, name: str, filter_: str, write) -> None:
        path = self._save_path(self, title, name, filter_)
        if not path:
            return
        try:
            write(Path(path))
        except OSError as exc:
            self.status.setText(f"Not saved: {exc.strerror or exc}")
        else:
            self.status.setText(f"Saved {path}")


def _reset(chart: QChart) -> None:
    chart.removeAllSeries()
    for axis in chart.axes():
        chart.removeAxis(axis)
