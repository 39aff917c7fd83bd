"""Download throughput: Hearth's engine against plain ``hf_hub_download``, same file, same Hub.

``run_download_benchmark`` times both on a Hub you give it; ``run_loopback_download_benchmark``
(for ``hearth bench download``) starts Hearth's own small Hub on 127.0.0.1 for it
(:mod:`app.bench.hub`, shipped with the app: the benchmark runs from an installed copy).
Each side runs ``rounds`` times, alternating, into fresh cache folders; the best run counts.
Hearth's time includes what ``hf_hub_download`` skips: progress reports and the sha256 check.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from app.bench.hub import BenchHub
from app.core.downloads.downloader import Downloader, Progress

TARGET_RATIO = 0.95
BENCH_REPO = "hearth-bench/Bench-GGUF"


def run_download_benchmark(
    hub_url: str, repo: str, filename: str, cache_dir: Path, rounds: int = 2
) -> dict:
    """Download ``repo/filename`` through Hearth and through ``hf_hub_download``; MB/s of each."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    cache_dir = Path(cache_dir)
    # Also makes the server hash the file now, outside the timed runs.
    size = get_hf_file_metadata(hf_hub_url(repo, filename, endpoint=hub_url), token=False).size
    best = {"app": 0.0, "raw": 0.0}
    reports: list[Progress] = []

    def app(folder: Path) -> None:
        downloader = Downloader(endpoint=hub_url, token=False, cache_dir=folder)
        downloader.download(repo, filename, progress=reports.append)

    def raw(folder: Path) -> None:
        hf_hub_download(repo, filename, endpoint=hub_url, cache_dir=folder, token=False)

    disable_progress_bars()
    try:
        for round_no in range(rounds):
            order = [("raw", raw), ("app", app)]
            for side, fetch in order if round_no % 2 == 0 else order[::-1]:
                folder = cache_dir / f"{side}-{round_no}"
                started = time.perf_counter()
                fetch(folder)
                best[side] = max(best[side], (size or 0) / 1e6 / (time.perf_counter() - started))
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        enable_progress_bars()
    ratio = best["app"] / best["raw"] if best["raw"] else 0.0
    return {
        "file": filename,
        "size_bytes": size,
        "rounds": rounds,
        "mb_s_app": round(best["app"], 1),
        "mb_s_raw": round(best["raw"], 1),
        "ratio": round(ratio, 3),
    }


def run_loopback_download_benchmark(
    source: Path | None = None, size_mb: int = 128, rounds: int = 2
) -> dict:
    """The benchmark on a loopback Hub serving ``source`` (default: ``size_mb`` MB, random)."""
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        if source is None:
            source = Path(tmp) / "Bench-Q8_0.gguf"
            with open(source, "wb") as out:
                for _ in range(size_mb):
                    out.write(os.urandom(1 << 20))
        with BenchHub() as hub:
            hub.add_repo(BENCH_REPO, {source.name: Path(source)})
            return run_download_benchmark(
                hub.url, BENCH_REPO, source.name, Path(tmp) / "cache", rounds
            )


def format_download_result(result: dict) -> str:
    """One line for the terminal."""
    verdict = "ok" if result["ratio"] >= TARGET_RATIO else "below target"
    return (
        f"Download of {result['file']} ({result['size_bytes'] / 1e6:,.0f} MB) from the "
        f"loopback Hub: Hearth {result['mb_s_app']:,.1f} MB/s, hf_hub_download "
        f"{result['mb_s_raw']:,.1f} MB/s, ratio {result['ratio']:.2f} "
        f"(target >= {TARGET_RATIO}: {verdict})"
    )
