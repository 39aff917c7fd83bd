"""The Compare page driven as a user drives it, measuring the real quant ladder with llama.cpp.

Three files (F16 reference, Q8_0, Q2_K) keep it fast; settings are the core tests' fast ones
(256 tokens, one thread). The measurement store is real SQLite in the test's folder.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from PySide6.QtCharts import QHorizontalBarSeries, QScatterSeries
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from app.core.common.paths import hf_hub_cache
from app.core.library import catalog
from app.core.library.catalog import HeaderCache
from app.core.measure.measurement import MeasureSettings
from app.core.measure.store import MeasureStore
from app.ui.compare.page import ComparePage
from app.ui.compare.pick_model import PathRole
from app.ui.compare.results_model import COLUMNS, RowRole, SortRole
from app.ui.my_models.library_model import LibraryModel
from tests.support.gguf_files import write_other_model
from tests.support.screenshots import screenshot

FAST = MeasureSettings(tokens=256, n_batch=128, gen_tokens=4, threads=1)
MEASURE_MS = 240_000
THREE = ("F16", "Q8_0", "Q2_K")


class Dialogs:
    """Stands in for the file dialogs: returns the paths set, records the titles asked."""

    def __init__(self) -> None:
        self.text = ""
        self.save = ""
        self.asked: list[str] = []

    def choose_text(self, _parent) -> str:
        self.asked.append("text")
        return self.text

    def save_path(self, _parent, title, _name, _filter) -> str:
        self.asked.append(title)
        return self.save


def library_with(paths, hearth_home, folders) -> LibraryModel:
    model = LibraryModel()
    model.set_models(
        catalog.list_models(
            hearth_home.models_dir,
            hf_hub_cache(),
            folders,
            home=hearth_home.data_dir / "home",
            environ={},
            header_cache=HeaderCache(hearth_home.cache_dir / "headers.json"),
        )
    )
    return model


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def make_page(qtbot, services, hearth_home, quant_ladder, dialogs):
    pages = []

    def make(store: MeasureStore | None = None, folders=(), settings=FAST) -> ComparePage:
        ladder_dir = quant_ladder["F16"].parent
        model = library_with(quant_ladder, hearth_home, [ladder_dir, *folders])
        page = ComparePage(
            model,
            hearth_home,
            store=store or services.stores.measurements,
            arena_store=services.stores.arena,
            machine_info=services.machine,
            connections=services.connections,
            sessions=services.new_session,
            settings=settings,
            choose_text=dialogs.choose_text,
            save_path=dialogs.save_path,
        )
        page.library_model = model  # keep it alive with the page
        qtbot.addWidget(page)
        page.resize(1200, 760)
        page.show()
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.shutdown()


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> MeasureStore:
    """One store for the tests that only need results, so the ladder is measured once."""
    return MeasureStore(tmp_path_factory.mktemp("store") / "measurements.sqlite3")


def table(page, figures: bool = True) -> list[dict[str, str]]:
    """The rows as the user reads them: the visible columns, with the figures shown (the
    "Show the figures" box ticked) unless ``figures`` is False."""
    page.measure_view.show_figures.setChecked(figures)
    view = page.measure_view.table
    model = view.model()
    return [
        {
            COLUMNS[c]: model.index(r, c).data()
            for c in range(model.columnCount())
            if not view.isColumnHidden(c)
        }
        for r in range(model.rowCount())
    ]


def measure(qtbot, page, paths) -> None:
    page.measure_files([str(p) for p in paths])
    with qtbot.waitSignal(page.measurer.finished, timeout=MEASURE_MS):
        page.measure_view.measure_button.click()


def test_measure_tab_shows_kl_divergence_growing_as_files_shrink(
    qtbot, qtmodeltester, make_page, quant_ladder, shared_store
):
    page = make_page(shared_store)
    files = [quant_ladder[q] for q in THREE]
    assert page.picks.rowCount() == 7  # the whole ladder is offered
    qtmodeltester.check(page.picks)
    measure(qtbot, page, files)

    # first what a newcomer reads: a verdict in words, the raw figures one click away
    plain = table(page, figures=False)
    assert [r["Answers"] for r in plain] == [
        "the reference: the others are compared with it",
        "answers almost always the same as the original",
        "often different from the original: expect more mistakes",
    ]
    assert not {"KL divergence", "Perplexity", "Same top %"} & set(plain[0])
    assert plain[1]["Size"].endswith(" MB") and plain[1]["Memory"].endswith(" MB")  # one unit
    assert "Answers are compared with SmolLM2-135M-Instruct-F16.gguf's" in (
        page.measure_view.summary.text()
    )

    rows = table(page)
    assert [r["Quant"] for r in rows] == list(THREE)
    assert [r["File"] for r in rows] == [f"…{q}.gguf" for q in THREE]  # the shared start once
    assert "Files of SmolLM2-135M-Instruct." in page.measure_view.summary.text()
    assert "Text" not in rows[0]  # one text: no column for it
    assert rows[0]["KL divergence"] == "reference"
    q8, q2 = float(rows[1]["KL divergence"]), float(rows[2]["KL divergence"])
    assert 0 < q8 < q2
    assert float(rows[2]["Perplexity"]) > float(rows[1]["Perplexity"])
    sizes = [page.results.index(r, COLUMNS.index("Size")).data(SortRole) for r in range(3)]
    assert sizes[0] > sizes[1] > sizes[2]
    assert all(float(r["Gen. tok/s"]) > 0 and float(r["Prompt tok/s"]) > 0 for r in rows)
    assert all(r["Memory"] and r["Load time"].endswith(" s") for r in rows)
    qtmodeltester.check(page.results)
    assert "Done" in page.measure_view.status.text()
    assert "SmolLM2-135M-Instruct-F16.gguf" in page.measure_view.summary.text()
    assert not page.measurer.busy and page.measure_view.measure_button.isEnabled()

    # Measuring again is served from the store: every row marked, nothing evaluated.
    with qtbot.waitSignal(page.measurer.finished, timeout=10_000) as done:
        page.measure_view.measure_button.click()
    assert done.args[0][0].evaluated == 0
    assert [r["Measured"] for r in table(page)] == ["stored"] * 3
    assert "3 from earlier measurements" in page.measure_view.status.text()
    assert float(table(page)[2]["KL divergence"]) == pytest.approx(q2, abs=1e-4)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_results_with_their_figures_fit_the_page_the_verdict_whole_in_its_tooltip(
    qtbot, keeper, make_page, quant_ladder, shared_store, theme
):
    """With the figures shown the results scrolled sideways in a 1366-px window (issue 19)."""
    keeper.apply(theme)  # the theme's paddings widen the columns
    page = make_page(shared_store)
    measure(qtbot, page, [quant_ladder[q] for q in THREE])
    view, results = page.measure_view.table, page.results
    for width in (1366 - 200, 1024 - 200):  # the page's share of the window beside the sidebar
        page.resize(width, 760)
        page.measure_view.show_figures.setChecked(True)
        qtbot.waitUntil(lambda: view.horizontalHeader().length() <= view.viewport().width())
        assert view.horizontalScrollBar().maximum() == 0, width
        metrics = view.fontMetrics()
        for name in ("Quant", "KL divergence", "Gen. tok/s", "Load time"):  # figures read whole
            column = results.column(name)
            assert not view.isColumnHidden(column), name
            for row in range(results.rowCount()):
                text = results.index(row, column).data()
                assert metrics.horizontalAdvance(text) < view.columnWidth(column), (width, text)
        page.measure_view.show_figures.setChecked(False)
    answers = results.index(2, results.column("Answers"))
    assert answers.data(Qt.ToolTipRole) == answers.data() != ""
    assert view.columnWidth(results.column("Answers")) >= 130  # the figures hidden
    # In the narrower page "Measured" and "Memory" stepped aside for the figures; back now.
    assert not view.isColumnHidden(results.column("Measured"))


def test_chart_holds_the_measured_points_and_exports(
    qtbot, make_page, quant_ladder, shared_store, dialogs, tmp_path, keeper
):
    page = make_page(shared_store)
    measure(qtbot, page, [quant_ladder[q] for q in THREE])
    page.open_tab("Chart")
    measured = {r.quant: r for r in page.results.index(0, 0).model().rows()}
    chart = page.chart

    scatter = {s.name(): s for s in chart.quality.series() if isinstance(s, QScatterSeries)}
    points = sorted((p.x(), p.y()) for p in scatter["Measured (bundled text)"].points())
    expected = sorted((measured[q].size_bytes / 1e6, measured[q].kld) for q in ("Q8_0", "Q2_K"))
    # The reference (KLD 0) has no place on a log axis; the two others are there.
    assert [v for p in points for v in p] == pytest.approx([v for p in expected for v in p])
    typical = scatter["Typical per quant (published, at this model's size)"].points()
    assert len(typical) == 10
    # every dot says its quant on the chart, without hovering
    assert chart.labels(scatter["Measured (bundled text)"]) == ["Q2_K", "Q8_0"]
    typical_labels = chart.labels(scatter["Typical per quant (published, at this model's size)"])
    assert "Q4_K_M" in typical_labels and "" not in typical_labels
    # Published Q8_0 sits at this model's size at Q8_0's bits per weight: near the real file.
    q8_typical = min(typical, key=lambda p: p.y())
    assert q8_typical.x() == pytest.approx(measured["Q8_0"].size_bytes / 1e6, rel=0.25)

    # The pointer on the Q2_K dot (the smallest file) shows its figures.
    dots = scatter["Measured (bundled text)"]
    view = chart.quality_view
    spot = view.mapFromScene(chart.quality.mapToPosition(QPointF(*expected[0]), dots))
    QTest.mouseMove(view.viewport(), spot + QPoint(40, 40))
    QTest.mouseMove(view.viewport(), spot)
    qtbot.waitUntil(lambda: chart.last_tip != "", timeout=2_000)
    assert "SmolLM2-135M-Instruct-Q2_K.gguf" in chart.last_tip
    assert f"{measured['Q2_K'].kld:.4f}" in chart.last_tip
    assert chart.quality_view.toolTip() == chart.last_tip
    assert "Q2_K" in chart.details.text()

    bars = [s for s in chart.speed.series() if isinstance(s, QHorizontalBarSeries)][0].barSets()[0]
    speeds = [bars.at(i) for i in range(bars.count())][::-1]  # drawn bottom-up: F16 on top
    assert speeds == pytest.approx([measured[q].tok_s for q in THREE], abs=0.051)

    dialogs.save = str(tmp_path / "ladder.csv")
    chart.csv_button.click()
    with open(dialogs.save, newline="", encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert [line["quant"] for line in lines] == list(THREE)
    assert float(lines[2]["kld"]) == pytest.approx(measured["Q2_K"].kld, rel=1e-4)
    assert int(lines[1]["size_bytes"]) == quant_ladder["Q8_0"].stat().st_size
    assert lines[0]["reference"] == "True"

    png = tmp_path / "chart.png"
    chart.export_png(png)
    image = QImage(str(png))
    assert image.width() > 600 and image.height() > 300
    assert png.stat().st_size > 20_000  # axes, points, bars: not a blank picture
    assert "Saved" in chart.status.text() and dialogs.asked == ["Export results"]

    # View > Theme: the charts take the theme's colours (they stayed white on the dark theme)
    # and keep their points, labels and bars.
    for name in ("dark", "light"):
        keeper.apply(name)
        painted = chart.quality_view.grab().toImage().pixelColor(12, 12)
        assert (painted.lightness() < 128) == (name == "dark")
        scatter = {s.name(): s for s in chart.quality.series() if isinstance(s, QScatterSeries)}
        assert chart.labels(scatter["Measured (bundled text)"]) == ["Q2_K", "Q8_0"]
        bars = [s for s in chart.speed.series() if isinstance(s, QHorizontalBarSeries)]
        assert bars[0].barSets()[0].count() == len(THREE)


def test_an_empty_chart_says_what_to_do_first(qtbot, make_page):
    """Two empty charts and a "Point at a dot" hint looked broken (issue 19)."""
    page = make_page()
    page.open_tab("Chart")
    chart = page.chart
    assert chart.empty.isVisible() and not chart.charts.isVisible()
    assert chart.empty.text().startswith("Measure two or more files to see the chart")
    assert not chart.details.isVisible()  # no dots to point at
    for button in (chart.png_button, chart.csv_button):
        assert not button.isEnabled() and button.toolTip().startswith("Nothing to export yet")
    chart.measure_button.click()  # "Go to Measure"
    assert page.tabs.currentWidget() is page.measure_view


def test_cancel_mid_measure_leaves_a_message_and_keeps_the_window(qtbot, make_page, quant_ladder):
    page = make_page()  # a store of its own, in the test's folder: nothing measured yet
    page.measure_files([str(quant_ladder[q]) for q in ("F16", "Q2_K")])
    view = page.measure_view
    with qtbot.waitSignal(
        page.measurer.progress, timeout=MEASURE_MS, check_params_cb=lambda _s, _t, m: "window" in m
    ):
        view.measure_button.click()
    assert view.cancel_button.isVisible() and not view.measure_button.isEnabled()
    with qtbot.waitSignal(page.measurer.cancelled, timeout=20_000):
        view.cancel_button.click()
    assert "cancelled" in view.status.text()
    assert view.status.objectName() == "note"
    assert view.measure_button.isEnabled() and not view.cancel_button.isVisible()
    assert page.results.rowCount() == 0
    assert page.store.count() <= 1  # at most the reference finished before the cancel


def other_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_other_model(folder / "Other-Model-Q8_0.gguf")


def test_files_of_different_models_get_a_clear_message(qtbot, make_page, quant_ladder, tmp_path):
    other = other_model(tmp_path / "mine")
    page = make_page(folders=[tmp_path / "mine"])
    view = page.measure_view
    page.measure_files([str(quant_ladder["Q8_0"])])
    assert not view.measure_button.isEnabled()  # one file is not a comparison
    page.measure_files([str(quant_ladder["Q8_0"]), str(other)])
    assert view.measure_button.text() == "Measure 2 files"
    with qtbot.waitSignal(page.measurer.failed, timeout=20_000):
        view.measure_button.click()
    assert "not quants of the same model" in view.status.text()
    assert view.status.objectName() == "error"
    assert set(page.picks.checked_paths()) == {str(quant_ladder["Q8_0"]), str(other)}  # kept


def test_files_not_in_the_library_are_named(make_page, tmp_path):
    page = make_page()
    page.measure_files([str(tmp_path / "gone-Q4_K_M.gguf")])
    assert "gone-Q4_K_M.gguf" in page.measure_view.status.text()
    assert page.measure_view.status.objectName() == "error"


def test_own_text_is_measured_beside_the_bundled_one(
    qtbot, make_page, quant_ladder, dialogs, tmp_path
):
    own = tmp_path / "letters.txt"
    own.write_text(
        " ".join(
            f"Dear customer {n}, thank you for your order of {n * 3} candles. They ship on "
            f"Monday from our workshop by the river, wrapped in paper."
            for n in range(40)
        ),
        encoding="utf-8",
    )
    dialogs.text = str(own)
    settings = MeasureSettings(tokens=192, n_batch=192, gen_tokens=2, threads=1)
    page = make_page(settings=settings)
    view = page.measure_view
    view.text_button.click()
    assert "letters.txt" in view.text_label.text()
    measure(qtbot, page, [quant_ladder["Q8_0"], quant_ladder["Q2_K"]])
    rows = table(page)
    assert [(r["Text"], r["Quant"]) for r in rows] == [
        ("Bundled text", "Q8_0"),
        ("Bundled text", "Q2_K"),
        ("letters.txt", "Q8_0"),
        ("letters.txt", "Q2_K"),
    ]
    bundled_ppl, own_ppl = float(rows[1]["Perplexity"]), float(rows[3]["Perplexity"])
    # measured against Q8_0, not the original weights: the verdict says so
    q2_answers = table(page, figures=False)[1]["Answers"]
    assert "the reference" in q2_answers and "original" not in q2_answers
    assert bundled_ppl != own_ppl  # two texts, two measurements
    names = [s.name() for s in page.chart.quality.series() if isinstance(s, QScatterSeries)]
    assert "Measured (letters.txt)" in names and "Measured (bundled text)" in names
    view.clear_text_button.click()
    assert view.text_path is None and "bundled" in view.text_label.text()
    assert all(page.results.index(r, 0).data(RowRole) for r in range(4))
    assert page.results.index(0, 0).data(Qt.ToolTipRole) == str(quant_ladder["Q8_0"])


def test_compare_in_my_models_opens_compare_with_the_files_ticked(
    qtbot, starter_home, quant_ladder
):
    from app.core.config.settings import Settings
    from app.ui.main_window import MainWindow

    settings = Settings(model_folders=[str(quant_ladder["F16"].parent)])
    window = MainWindow(starter_home, settings)
    qtbot.addWidget(window)
    try:
        with qtbot.waitSignal(window.session.loaded, timeout=60_000):
            window.show()
        qtbot.waitUntil(lambda: window.library.rowCount() == 8, timeout=20_000)
        window.open_page("My Models")
        picked = [str(quant_ladder[q]) for q in ("Q8_0", "Q4_K_M")]
        window.models_page.select(*picked)
        window.models_page.compare()
        assert window.pages.currentWidget() is window.compare_page
        page = window.compare_page
        assert page.tabs.tabText(page.tabs.currentIndex()) == "Measure"
        assert sorted(page.picks.checked_paths()) == sorted(picked)
        assert page.measure_view.measure_button.text() == "Measure 2 files"
        assert "2 files picked" in page.measure_view.status.text()
    finally:
        window.shutdown()
        window.compare_page.shutdown()


def test_more_than_eight_files_are_refused_with_a_message(make_page, quant_ladder, tmp_path):
    folder = tmp_path / "copies"
    folder.mkdir()
    for name in ("Q8_0", "Q2_K"):  # nine files of one model: the ladder and two copies
        os.link(quant_ladder[name], folder / f"Copy-{name}.gguf")
    page = make_page(folders=[folder])
    every = [page.picks.index(r, 0).data(PathRole) for r in range(page.picks.rowCount())]
    page.measure_files(every)
    assert len(page.picks.checked_paths()) == 9
    page.measure_view.measure_button.click()
    assert "between 2 and 8" in page.measure_view.status.text()
    assert page.measure_view.status.objectName() == "error"
    assert not page.measurer.busy


def test_the_file_list_fits_a_small_window_with_long_names_elided(
    qtbot, keeper, make_page, quant_ladder, tmp_path
):
    """In a 1024-px window the list of files scrolled sideways (issue 19): quant and size stay
    whole, a long file name is cut in its cell and whole in its tooltip."""
    folder = tmp_path / "long"
    folder.mkdir()
    long = "SmolLM2-135M-Instruct-a-very-long-community-fine-tune-name-for-roleplay-v2-Q8_0"
    os.link(quant_ladder["Q8_0"], folder / f"{long}.gguf")
    page = make_page(folders=[folder])
    keeper.apply("light")
    page.resize(1024 - 180, 640)  # the page's share of a 1024-px window beside the sidebar
    qtbot.waitExposed(page)
    view = page.measure_view.file_list
    qtbot.waitUntil(lambda: view.horizontalHeader().length() <= view.viewport().width())
    assert view.horizontalScrollBar().maximum() == 0
    metrics, picks = view.fontMetrics(), page.picks
    row = next(r for r in range(picks.rowCount()) if long in picks.index(r, 0).data())
    for column in (1, 2):  # the quant and the size, read whole
        text = picks.index(row, column).data()
        assert metrics.horizontalAdvance(text) < view.columnWidth(column), text
    assert metrics.horizontalAdvance(picks.index(row, 0).data()) > view.columnWidth(0)
    assert long in picks.index(row, 2).data(Qt.ToolTipRole)  # whole where the cell cuts it
    screenshot(page, "compare_measure_files_1024_light.png")
    keeper.apply("dark")
    screenshot(page, "compare_measure_files_1024_dark.png")


def test_shutdown_mid_measure_stops_at_once(qtbot, make_page, quant_ladder):
    """Told by what happened, not by seconds: the measurement was cancelled (it did not run
    on to the end of both files), and its thread had ended when ``shutdown()`` returned."""
    page = make_page()
    finished, cancelled = [], []
    page.measurer.finished.connect(finished.append)
    page.measurer.cancelled.connect(cancelled.append)
    page.measure_files([str(quant_ladder[q]) for q in ("F16", "Q8_0")])
    with qtbot.waitSignal(
        page.measurer.progress, timeout=MEASURE_MS, check_params_cb=lambda _s, _t, m: "window" in m
    ):
        page.measure_view.measure_button.click()
    page.shutdown()
    assert not page.measurer.thread_running
    qtbot.waitUntil(lambda: bool(cancelled or finished), timeout=MEASURE_MS)
    assert len(cancelled) == 1 and not finished


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_compare_leads_with_plain_words_in_both_themes(
    qtbot, make_page, quant_ladder, shared_store, keeper, theme
):
    """A verdict and a labelled chart first, the figures one click away (issue 19)."""
    keeper.apply(theme)
    page = make_page(shared_store)
    measure(qtbot, page, [quant_ladder[q] for q in THREE])
    view = page.measure_view
    assert not view.show_figures.isChecked()
    assert view.table.isColumnHidden(page.results.column("KL divergence"))
    screenshot(page, f"compare_measure_{theme}.png")
    view.show_figures.click()
    assert not view.table.isColumnHidden(page.results.column("KL divergence"))
    page.open_tab("Chart")
    screenshot(page, f"compare_chart_{theme}.png")
    page.open_tab("Typical figures")
    typical = page.tabs.currentWidget()
    cells = {
        typical.table.item(r, 0).text(): typical.table.item(r, 1).text()
        for r in range(typical.table.rowCount())
    }
    assert cells["Q8_0"] == "answers almost always the same as the original"
    assert cells["Q2_K"] == "often different from the original: expect more mistakes"
    sizes = [typical.table.item(r, 2).text() for r in range(typical.table.rowCount())]
    assert all(size.endswith(" GB") for size in sizes)  # 4.58 GiB of Q4_K_M: 4.9 GB
    q4 = [r for r in range(typical.table.rowCount()) if typical.table.item(r, 0).text() == "Q4_K_M"]
    assert typical.table.item(q4[0], 3).text() == "4.9"  # the picker's "Q4_K_M usually 4.9"
    assert typical.table.isColumnHidden(4)  # KL divergence: behind "Show the figures"
    typical.show_figures.click()
    assert not typical.table.isColumnHidden(4) and typical.show_figures.text() == "Hide the figures"
    screenshot(page, f"compare_typical_{theme}.png")
    page.resize(1024, 640)  # the small screen of issue 19: the verdicts still show whole
    page.open_tab("Measure")
    view.show_figures.click()  # back to the plain view
    answers = page.results.column("Answers")
    text = page.results.index(2, answers).data()
    assert view.table.columnWidth(answers) > view.table.fontMetrics().horizontalAdvance(text)
