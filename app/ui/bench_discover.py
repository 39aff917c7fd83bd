"""Search to results on screen: the time from a search request in Discover to its result rows
painted in the list, against a Hub on 127.0.0.1 (``hearth bench download`` prints it).

The real Discover page runs (offscreen when no display is set up), tall enough to show every
row at once; the search starts as the Enter key would start it, and the clock stops when the
view's delegate has painted the last of ``rows`` rows of the new answer. Each round searches
anew; the median and the best count.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

BENCH_QUERY = "Bench-Search"
ROW_TARGET = 100
TIMEOUT_S = 60


def add_search_repos(hub, rows: int = ROW_TARGET) -> None:
    """``rows`` GGUF repos named like real ones, each with a ladder of quants."""
    for i in range(rows):
        quants = ("Q2_K", "Q4_K_M", "Q5_K_M", "Q8_0")
        hub.add_repo(f"bench-org{i % 7}/{BENCH_QUERY}-{i}-{1 + i % 13}B-Instruct-GGUF",
                     {f"Model-{i}-{q}.gguf": q.encode() for q in quants},
                     downloads=10_000 - i, likes=i % 50,
                     gguf={"total": (1 + i % 13) * 10**9, "architecture": "llama",
                           "context_length": 32768})


def run_discover_benchmark(hub_url: str, rows: int = ROW_TARGET, rounds: int = 3) -> dict:
    """Milliseconds from ``DiscoverPage.search()`` to ``rows`` rows painted, per round."""
    from app.core.hub import HubClient
    from app.ui.hub_result_delegate import HubResultDelegate
    from app.ui.pages.discover_page import DiscoverPage

    if QApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])

    class CountingDelegate(HubResultDelegate):
        """Paints as Discover does, noting which rows of the current answer were painted."""

        def __init__(self, parent) -> None:
            super().__init__(parent)
            self.painted: set[int] = set()
            self.done_at = 0.0

        def paint(self, painter, option, index) -> None:
            super().paint(painter, option, index)
            if page.results_model.rowCount() >= rows:
                self.painted.add(index.row())
                if len(self.painted) >= rows and not self.done_at:
                    self.done_at = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="hearth-bench-discover-") as tmp:
        page = DiscoverPage(None, None, Path(tmp) / "models",
                            client=HubClient(hub_url, token=False, retries=0),
                            cache_file=Path(tmp) / "discover.json", page_size=rows,
                            auto_search=False)
        delegate = CountingDelegate(page.results)
        page.results.setItemDelegate(delegate)
        page.resize(1000, 200 + rows * 80)  # every row on screen at once
        page.show()
        app.processEvents()
        times, rows_in = [], []
        try:
            for _ in range(rounds):
                page.results_model.show_models([])  # start each round from an empty list
                app.processEvents()
                delegate.painted, delegate.done_at = set(), 0.0
                page.query.setText(BENCH_QUERY)
                started = time.perf_counter()
                page.search()
                loaded = _wait(app, lambda: page.results_model.rowCount() >= rows
                               or bool(page.results_model.error))
                if page.results_model.error:
                    raise RuntimeError(f"The benchmark search failed: {page.results_model.error}")
                rows_in.append((loaded - started) * 1000)
                _wait(app, lambda: bool(delegate.done_at))
                times.append((delegate.done_at - started) * 1000)
            shown = page.results_model.rowCount()
        finally:
            page.hide()
            page.deleteLater()
            app.processEvents()
    return {"rows": shown, "rounds": rounds,
            "search_to_results_ms": round(statistics.median(times), 1),
            "search_to_results_ms_best": round(min(times), 1),
            "search_to_rows_in_ms": round(statistics.median(rows_in), 1)}


def _wait(app, condition) -> float:
    """Run the event loop until ``condition()``; the moment it became true."""
    deadline = time.perf_counter() + TIMEOUT_S
    loop = QEventLoop()
    poll = QTimer(interval=1)
    poll.timeout.connect(lambda: (condition() or time.perf_counter() > deadline) and loop.quit())
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise RuntimeError(f"Discover did not show the results within {TIMEOUT_S} s")
    return time.perf_counter()


def run_loopback_discover_benchmark(rows: int = ROW_TARGET, rounds: int = 3) -> dict:
    """The benchmark on Hearth's own Hub on 127.0.0.1 (``bench_hub``), ``rows`` repos."""
    from app.core.bench_hub import BenchHub

    with BenchHub(page_size=rows) as hub:
        add_search_repos(hub, rows)
        return run_discover_benchmark(hub.url, rows, rounds)


def format_discover_result(result: dict) -> str:
    """One line for the terminal."""
    return (f"Discover, search to {result['rows']} results painted (loopback Hub, offscreen): "
            f"{result['search_to_results_ms']:,.0f} ms median of {result['rounds']} "
            f"(best {result['search_to_results_ms_best']:,.0f} ms; the Hub's answer in the list "
            f"after {result['search_to_rows_in_ms']:,.0f} ms)")
