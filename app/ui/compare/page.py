"""Compare: what each quant level of one model costs and gives.

Tabs: Measure (pick local files, measure them), Chart (size vs quality, speed), Side by side
(one prompt, 2-4 models answering in columns), Blind arena (the same, labels hidden, a lasting
tally), Make a quant, Typical figures (the published table); ``add_tab`` takes more.
``quant_made(path)`` says a new file was made: the library should refresh.
``measure_files(paths)`` opens the Measure tab with those files ticked; My Models calls it.
Call ``shutdown()`` before the window goes; it also runs when the application quits.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Signal, Slot
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from app.core.common.paths import Paths
from app.core.compare.arena import ArenaStore
from app.core.fit.machine_info import MachineInfo
from app.core.inference.remote import ConnectionStore
from app.core.measure.measurement import MeasureSettings
from app.core.measure.store import MeasureStore
from app.ui.compare.arena_view import ArenaView
from app.ui.compare.make_quant_panel import MakeQuantPanel
from app.ui.compare.measure_view import MeasureView, ask_text_file
from app.ui.compare.measure_worker import Measurer
from app.ui.compare.pick_model import PickModel
from app.ui.compare.published_table import PublishedTable
from app.ui.compare.quality_chart import QualityChart, ask_save_path
from app.ui.compare.results_model import ResultsModel
from app.ui.compare.runner import SessionFactory
from app.ui.compare.side_by_side_tab import SideBySideTab
from app.ui.my_models.library_model import LibraryModel


class ComparePage(QWidget):
    quant_made = Signal(str)  # a file made by Make a quant

    def __init__(
        self,
        library: LibraryModel,
        paths: Paths,
        *,
        store: MeasureStore,
        arena_store: ArenaStore,
        machine_info: MachineInfo,
        connections: ConnectionStore,
        sessions: SessionFactory,
        settings: MeasureSettings = MeasureSettings(),
        choose_text: Callable = ask_text_file,
        save_path: Callable = ask_save_path,
    ) -> None:
        """The stores, the machine's report, the connections and ``sessions`` (a column's own
        model host) come from the studio's ``Services``."""
        super().__init__()
        self.store = store
        self.picks = PickModel(library, self)
        self.results = ResultsModel(self)
        self.measurer = Measurer(self.store, paths.cache_dir, self)
        self.measure_view = MeasureView(
            self.picks, self.results, self.measurer, settings, choose_text
        )
        self.chart = QualityChart(self.results, save_path)
        self.measure_view.comparisons_changed.connect(self.chart.set_comparisons)
        self.chart.measure_requested.connect(self._open_measure)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.add_tab(self.measure_view, "Measure")
        self.add_tab(self.chart, "Chart")
        self.side_by_side = SideBySideTab(
            library, machine=machine_info.machine, connections=connections, sessions=sessions
        )
        self.arena = ArenaView(
            library,
            store=arena_store,
            machine=machine_info.machine,
            connections=connections,
            sessions=sessions,
        )
        self.make_quant = MakeQuantPanel(library, paths.models_dir)
        self.make_quant.quant_made.connect(self.quant_made)
        self.add_tab(self.side_by_side, "Side by side")
        self.add_tab(self.arena, "Blind arena")
        self.add_tab(self.make_quant, "Make a quant")
        self.add_tab(PublishedTable(), "Typical figures")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(QLabel("Compare", objectName="pageTitle"))
        # The tabs scroll inside the page: the tallest tab made a 640-px window 713 px tall
        # with a dock open below (issue 19).
        self.tabs_area = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self.tabs_area.setWidget(self.tabs)
        layout.addWidget(self.tabs_area, 1)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Add a tab (after the ones there); returns its index."""
        return self.tabs.addTab(widget, title)

    def open_tab(self, title: str) -> None:
        for index in range(self.tabs.count()):
            if self.tabs.tabText(index) == title:
                self.tabs.setCurrentIndex(index)

    @Slot()
    def _open_measure(self) -> None:
        self.open_tab("Measure")

    @Slot(list)
    def measure_files(self, paths: list) -> None:
        """Open the Measure tab with ``paths`` ticked, ready to measure."""
        self.open_tab("Measure")
        self.measure_view.pick([str(p) for p in paths])

    @Slot()
    def shutdown(self) -> None:
        """Stop measuring, answering and quantizing, and their threads. Safe to call twice."""
        self.measurer.shutdown()
        self.side_by_side.shutdown()
        self.arena.shutdown()
        self.make_quant.shutdown()
