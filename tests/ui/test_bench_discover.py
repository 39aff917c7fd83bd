"""The Discover benchmark, run on the test suite's loopback Hub."""

from __future__ import annotations

from PySide6.QtCore import QThreadPool

from app.ui.bench_discover import (
    BENCH_QUERY, add_search_repos, format_discover_result, run_discover_benchmark,
)


def test_search_to_100_rows_painted(qtbot, loopback_hub) -> None:
    add_search_repos(loopback_hub, 100)
    loopback_hub.add_repo("other/Unrelated-GGUF", {"Unrelated-Q4_K_M.gguf": b"x"},
                          downloads=10**6, tags=["gguf"])

    result = run_discover_benchmark(loopback_hub.url, rows=100, rounds=2)

    assert QThreadPool.globalInstance().waitForDone(15_000)
    assert (result["rows"], result["rounds"]) == (100, 2)
    assert 0 < result["search_to_rows_in_ms"] <= result["search_to_results_ms"]
    assert result["search_to_results_ms_best"] <= result["search_to_results_ms"]
    searches = loopback_hub.requests_matching("/api/models?")
    assert len(searches) == 2  # one Hub page of 100 per round
    assert all(f"search={BENCH_QUERY}" in r.path and "limit=100" in r.path for r in searches)
    line = format_discover_result(result)
    assert line.startswith("Discover, search to 100 results painted (loopback Hub, offscreen): ")
    assert "median of 2" in line
