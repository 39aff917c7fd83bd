"""The Discover benchmark, run on the test suite's loopback Hub."""

from __future__ import annotations

from PySide6.QtCore import QThreadPool

from app.bench.discover import (
    BENCH_QUERY,
    add_search_repos,
    format_discover_result,
    run_discover_benchmark,
)


def test_search_to_100_rows_painted(qtbot, loopback_hub) -> None:
    add_search_repos(loopback_hub, 100)
    loopback_hub.add_repo(
        "other/Unrelated-GGUF", {"Unrelated-Q4_K_M.gguf": b"x"}, downloads=10**6, tags=["gguf"]
    )

    result = run_discover_benchmark(loopback_hub.url, rows=100, rounds=2)

    assert QThreadPool.globalInstance().waitForDone(15_000)
    assert (result["rows"], result["rounds"]) == (100, 2)
    assert 0 < result["search_to_rows_in_ms"] < result["search_to_first_screen_ms"]
    assert result["search_to_results_ms_best"] <= result["search_to_results_ms"]
    assert result["search_to_first_screen_ms"] > 0
    assert 6 <= result["first_screen_rows"] <= 9  # what 1000x720 shows, the last row in part
    searches = loopback_hub.requests_matching("/api/models?")
    assert len(searches) == 4  # one Hub page of 100 per round, two rounds for each window
    assert all(f"search={BENCH_QUERY}" in r.path and "limit=100" in r.path for r in searches)
    all_rows, first_screen = format_discover_result(result).splitlines()
    assert all_rows.startswith(
        "Discover, search to all 100 results painted (loopback Hub, "
        "offscreen, window tall enough for all): "
    )
    assert "median of 2" in all_rows
    assert first_screen.startswith(
        f"Discover, search to the first screen ({result['first_screen_rows']} rows of 100, "
        "1000x720 window) painted: "
    )
