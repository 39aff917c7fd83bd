"""Search to results on screen: the time from a search request in Discover to its result rows
painted in the list, against a Hub on 127.0.0.1 (``hearth bench download`` prints it).

The real Discover page runs (offscreen unless QT_QPA_PLATFORM says otherwise; Hearth's style).
The search starts as the Enter key would start it; the clock stops when the view's delegate has
painted the last of the answer's ``rows`` rows, in a window tall enough to show all of them at
once; then again, in a usual 1000x720 window, when the first screenful is painted. Each round
searches anew; medians (and the best) count.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QThreadPool, QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

BENCH_QUERY = "Bench-Search"
ROW_TARGET = 100
TIMEOUT_S = 60


def add_search_repos(hub, rows: int = ROW_TARGET) -> None:
    """``rows`` GGUF repos named like real ones, each with a ladder of quants."""
    for i in range(rows):
        quants = ("Q2_K", "Q4_K_M", "Q5_K_M", "Q8_0")
        hub.add_repo(
            f"bench-org{i % 7}/{BENCH_QUERY}-{i}-{1 + i % 13}B-Instruct-GGUF",
            {f"Model-{i}-{q}.gguf": q.encode() for q in quants},
            downloads=10_000 - i,
            likes=i % 50,
            gguf={"total": (1 + i % 13) * 10**9, "architecture": "llama", "context_length": 32768},
        )


def run_discover_benchmark(hub_url: str, rows: int = ROW_TARGET, rounds: int = 3) -> dict:
    """Milliseconds from ``DiscoverPage.search()`` to its ``rows`` rows painted (a window tall
    enough for all of them), and to the first screen of them painted (a 1000x720 window)."""
    from app.core.fit.machine_info import MachineInfo
    from app.core.hub.client import HubClient
    from app.ui.discover.page import DiscoverPage
    from app.ui.discover.result_delegate import ROW_HEIGHT, HubResultDelegate

    app = QApplication.instance() or _own_app()

    class CountingDelegate(HubResultDelegate):
        """Paints as Discover does, noting which rows of the current answer were painted."""

        target, done_at = rows, 0.0
        painted: set[int] = set()

        def paint(self, painter, option, index) -> None:
            super().paint(painter, option, index)
            if page.results_model.rowCount() >= rows:
                self.painted.add(index.row())
                if len(self.painted) >= self.target and not self.done_at:
                    self.done_at = time.perf_counter()

    rows_in_at = [0.0]  # when the answer's rows were in the list (the model's own signal)

    def note_rows(*_args) -> None:
        if not rows_in_at[0] and page.results_model.rowCount() >= rows:
            rows_in_at[0] = time.perf_counter()

    def one_round() -> tuple[float, float]:
        page.results_model.show_models([])  # start each round from an empty list
        app.processEvents()
        delegate.painted, delegate.done_at = set(), 0.0
        rows_in_at[0] = 0.0
        page.query.setText(BENCH_QUERY)
        started = time.perf_counter()
        page.search()
        loaded = _wait(
            app, lambda: page.results_model.rowCount() >= rows or bool(page.results_model.error)
        )
        if page.results_model.error:
            raise RuntimeError(f"The benchmark search failed: {page.results_model.error}")
        _wait(app, lambda: bool(delegate.done_at))
        # The moment the rows came in, not when the 1 ms poll saw them: the view may paint them
        # in the same pass of the event loop, before the poll does.
        loaded = rows_in_at[0] or loaded
        return (loaded - started) * 1000, (delegate.done_at - started) * 1000

    figures: dict[str, list[float]] = {"all": [], "screen": [], "rows_in": []}
    with tempfile.TemporaryDirectory(prefix="hearth-bench-discover-") as tmp:
        page = DiscoverPage(
            None,
            None,
            Path(tmp) / "models",
            client=HubClient(hub_url, token=False, retries=0),
            cache_file=Path(tmp) / "discover.json",
            page_size=rows,
            auto_search=False,
            machine_info=MachineInfo(Path(tmp) / "models"),  # probed only if Fits is ticked
        )
        delegate = CountingDelegate(page.results)
        page.results_model.rowsInserted.connect(note_rows)
        page.results_model.modelReset.connect(note_rows)
        page.results.setItemDelegate(delegate)
        page.show()
        try:
            for kind, height in (("all", 200 + rows * (ROW_HEIGHT + 4)), ("screen", 720)):
                page.resize(1000, height)
                app.processEvents()
                delegate.target = min(rows, -(-page.results.viewport().height() // ROW_HEIGHT))
                for _ in range(rounds):
                    rows_in, painted = one_round()
                    figures[kind].append(painted)
                    if kind == "screen":  # the same rounds as the first screen's figure
                        figures["rows_in"].append(rows_in)
            shown, on_screen = page.results_model.rowCount(), delegate.target
        finally:
            page.hide()
            page.deleteLater()
            app.processEvents()
            # The page saves its results on the thread pool: let that end before the folder
            # it writes in is removed.
            QThreadPool.globalInstance().waitForDone(TIMEOUT_S * 1000)
    return {
        "rows": shown,
        "rounds": rounds,
        "search_to_results_ms": round(statistics.median(figures["all"]), 1),
        "search_to_results_ms_best": round(min(figures["all"]), 1),
        "search_to_first_screen_ms": round(statistics.median(figures["screen"]), 1),
        "first_screen_rows": on_screen,
        "search_to_rows_in_ms": round(statistics.median(figures["rows_in"]), 1),
    }


def _own_app() -> QApplication:
    """A QApplication styled as Hearth's window is, offscreen unless told otherwise; Qt's
    messages go to the log, not the terminal."""
    from app.ui.application import apply_style

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    qInstallMessageHandler(_qt_message)
    app = QApplication([])
    apply_style(app)
    return app


def _qt_message(_mode, _context, message: str) -> None:
    logging.getLogger("hearth.qt").info("%s", message)


def _wait(app, condition) -> float:
    """Run the event loop until ``condition()``; the moment it became true."""
    deadline = time.perf_counter() + TIMEOUT_S
    loop = QEventLoop()
    poll = QTimer(interval=1)

    def check() -> None:
        if condition() or time.perf_counter() > deadline:
            loop.quit()

    poll.timeout.connect(check)
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise RuntimeError(f"Discover did not show the results within {TIMEOUT_S} s")
    return time.perf_counter()


def run_loopback_discover_benchmark(rows: int = ROW_TARGET, rounds: int = 3) -> dict:
    """The benchmark on Hearth's own Hub on 127.0.0.1 (``bench_hub``), ``rows`` repos."""
    from app.bench.hub import BenchHub

    with BenchHub(page_size=rows) as hub:
        add_search_repos(hub, rows)
        return run_discover_benchmark(hub.url, rows, rounds)


def format_discover_result(result: dict) -> str:
    """Two lines for the terminal."""
    return (
        f"Discover, search to all {result['rows']} results painted (loopback Hub, offscreen, "
        f"window tall enough for all): {result['search_to_results_ms']:,.0f} ms median of "
        f"{result['rounds']} (best {result['search_to_results_ms_best']:,.0f} ms)\n"
        f"Discover, search to the first screen ({result['first_screen_rows']} rows of "
        f"{result['rows']}, 1000x720 window) painted: "
        f"{result['search_to_first_screen_ms']:,.0f} ms median (the Hub's answer was in the "
        f"list after {result['search_to_rows_in_ms']:,.0f} ms)"
    )
