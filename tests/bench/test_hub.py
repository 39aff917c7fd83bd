"""Hearth's own benchmark Hub, with the real huggingface_hub client and Hearth's downloader."""

from __future__ import annotations

import hashlib
import http.client
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from huggingface_hub import HfApi, hf_hub_download

from app.bench.hub import UNSATISFIABLE, BenchHub, parse_range
from app.core.downloads.downloader import Downloader
from app.core.hub.client import HubClient, SearchQuery


@pytest.fixture
def bench_hub():
    with BenchHub(page_size=4) as hub:
        yield hub


def test_search_pages_follow_the_link_header(bench_hub) -> None:
    for i in range(6):
        bench_hub.add_repo(
            f"org/Model-{i}-GGUF",
            {f"Model-{i}-Q4_K_M.gguf": b"x"},
            downloads=i,
            gguf={"total": 10**9, "architecture": "llama"},
        )
    bench_hub.add_repo("else/Other-GGUF", {"Other-Q8_0.gguf": b"y"}, downloads=100)

    pages = HubClient(bench_hub.url, token=False).search(SearchQuery("model"), page_size=4)
    first, second = pages.next_page(), pages.next_page()

    assert [m.id for m in first] == [f"org/Model-{i}-GGUF" for i in (5, 4, 3, 2)]
    assert [m.id for m in second] == ["org/Model-1-GGUF", "org/Model-0-GGUF"] and pages.done
    assert (first[0].architecture, first[0].parameters, first[0].quants) == (
        "llama",
        10**9,
        ("Q4_K_M",),
    )


def test_both_downloaders_get_the_same_verified_bytes(bench_hub, tmp_path) -> None:
    data = os.urandom(3_000_000)
    bench_hub.add_repo("org/Dl-GGUF", {"Dl-Q8_0.gguf": data, "README.md": b"# Dl"})

    info = HfApi(endpoint=bench_hub.url).model_info("org/Dl-GGUF", files_metadata=True)
    ours = Downloader(endpoint=bench_hub.url, token=False, cache_dir=tmp_path / "a").download(
        "org/Dl-GGUF", "Dl-Q8_0.gguf"
    )
    theirs = hf_hub_download(
        "org/Dl-GGUF", "Dl-Q8_0.gguf", endpoint=bench_hub.url, cache_dir=tmp_path / "b", token=False
    )

    sibling = next(s for s in info.siblings if s.rfilename == "Dl-Q8_0.gguf")
    assert sibling.lfs.sha256 == hashlib.sha256(data).hexdigest() and sibling.size == len(data)
    assert ours.path.read_bytes() == data and Path(theirs).read_bytes() == data
    assert ours.commit == info.sha


def test_ranges(bench_hub) -> None:
    bench_hub.add_repo("org/R", {"R.gguf": bytes(range(100))})
    repo = bench_hub.repo("org/R")
    connection = _connect(bench_hub.url)
    try:
        connection.request("HEAD", f"/org/R/resolve/{repo.head.sha}/R.gguf")
        response = connection.getresponse()
        response.read()
        assert response.status == 302  # an LFS file, served by the CDN as on huggingface.co
        location = urlsplit(response.headers["Location"])
    finally:
        connection.close()
    connection = _connect(bench_hub.cdn_url)
    try:
        target = f"{location.path}?{location.query}"
        connection.request("GET", target, headers={"Range": "bytes=10-19"})
        response = connection.getresponse()
        assert (response.status, response.read()) == (206, bytes(range(10, 20)))
        assert response.headers["Content-Range"] == "bytes 10-19/100"
        connection.request("GET", target, headers={"Range": "bytes=200-"})
        response = connection.getresponse()
        assert response.status == 416 and response.read() == b""
    finally:
        connection.close()
    assert (
        parse_range("bytes=-10", 100) == (90, 99) and parse_range("bytes=-0", 100) == UNSATISFIABLE
    )
    assert parse_range("items=1-2", 100) is None and parse_range("bytes=5-", 100) == (5, 99)


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
