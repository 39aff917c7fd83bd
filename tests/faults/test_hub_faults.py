"""A broken or hostile Hub: malformed JSON, missing fields, enormous listings, hostile file names.

Hearth's Hub client (search, model page) and downloader must answer each with a clear typed
error (a ``HearthError``) or a usable result, and write nothing outside Hearth's folders and the
Hugging Face cache. The loopback Hub serves the bodies as they are (``serve_raw``).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from app.core.common.errors import DownloadError, HearthError, HubError, UnsafeFileName
from app.core.common.paths import Paths
from app.core.downloads.downloader import Downloader
from app.core.downloads.http import RetryPolicy
from app.core.hub.client import HubClient, SearchQuery
from tests.faults.tally import Tally
from tests.support.hub_server import LoopbackHub

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("plain_http_client")]

REPO = "org/Hostile-GGUF"
MODEL = "Hostile-Q4_K_M.gguf"
SHA = "a" * 40

LISTINGS = {
    "malformed JSON": b'[{"id": "org/a", "downloads": ',
    "HTML instead of JSON": b"<html><body>Bad gateway</body></html>",
    "an object instead of a list": b'{"error": "something"}',
    "null": b"null",
    "a list of strings": b'["org/a", "org/b"]',
    "entries without an id": json.dumps([{"downloads": 3, "likes": 1}]).encode(),
    "fields of the wrong type": json.dumps(
        [{"id": "org/a", "downloads": "many", "likes": [], "tags": 5, "gguf": "x", "siblings": 7}]
    ).encode(),
    "an empty body": b"",
}
INFOS = {
    "malformed JSON": b'{"id": "org/Hostile-GGUF", "sha": ',
    "an empty object": b"{}",
    "a list instead of an object": b"[]",
    "siblings without names": json.dumps(
        {"id": REPO, "sha": SHA, "siblings": [{"size": 3}]}
    ).encode(),
    "siblings that are not a list": json.dumps(
        {"id": REPO, "sha": SHA, "siblings": "all of them"}
    ).encode(),
}


def cases(bodies: dict[str, bytes], broken: set[str]) -> list:
    return [pytest.param(name, id=name, marks=[]) for name in bodies]


def client(hub: LoopbackHub) -> HubClient:
    return HubClient(hub.url, token=False, sleep=lambda _: None)


def downloader(hub: LoopbackHub) -> Downloader:
    return Downloader(
        endpoint=hub.url, token=False, retry=RetryPolicy(attempts=2, sleep=lambda _: None)
    )


def stray_files(tmp_path: Path, paths: Paths) -> list[Path]:
    """Files under tmp_path outside Hearth's folders and the HF cache."""
    allowed = [paths.config_dir, paths.data_dir, paths.cache_dir, paths.log_dir, tmp_path / "hf"]
    return [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and not any(folder in p.parents for folder in allowed)
    ]


@pytest.fixture
def hub(loopback_hub: LoopbackHub) -> LoopbackHub:
    loopback_hub.add_repo(REPO, {MODEL: b"GGUF" + bytes(996)})
    return loopback_hub


@pytest.mark.parametrize("body", cases(LISTINGS, set(LISTINGS)))
def test_a_malformed_search_listing_is_a_clear_error(
    hub: LoopbackHub, faults: Tally, body: str
) -> None:
    hub.serve_raw("/api/models?", LISTINGS[body], count=None)
    with faults.inject(f"Hub search answered with {body}"):
        with pytest.raises(HubError) as failure:
            client(hub).search(SearchQuery("hostile")).next_page()

        assert "\n" not in str(failure.value) and len(str(failure.value)) < 400


@pytest.mark.parametrize("body", cases(INFOS, set(INFOS)))
def test_a_malformed_model_page_is_a_clear_error(
    hub: LoopbackHub, faults: Tally, body: str
) -> None:
    hub.serve_raw(f"/api/models/{REPO}", INFOS[body], count=None)
    with faults.inject(f"Hub model page answered with {body}"):
        with pytest.raises(HubError):
            client(hub).details(REPO)
        with pytest.raises(HubError):
            client(hub).info(REPO)


@pytest.mark.parametrize("body", INFOS, ids=list(INFOS))
def test_a_malformed_model_page_stops_a_download_clearly(
    hub: LoopbackHub, hearth_home: Paths, tmp_path: Path, faults: Tally, body: str
) -> None:
    hub.serve_raw(f"/api/models/{REPO}", INFOS[body], count=None)
    with faults.inject(f"download, the Hub's file list answered with {body}"):
        with pytest.raises(DownloadError):
            downloader(hub).download(REPO, MODEL)

        assert stray_files(tmp_path, hearth_home) == []
        assert not list((tmp_path / "hf").rglob("*.gguf"))


def test_an_enormous_listing_is_read_in_bounded_time(hub: LoopbackHub, faults: Tally) -> None:
    """A page ten times as long takes about ten times as long to read, not a hundred (no work
    per entry that grows with the page): measured against a page of 2,000 read here, now (the
    best of three, so that one slow moment cannot make the baseline)."""

    def read(count: int) -> tuple[list, float]:
        entries = [
            {"id": f"bulk/model-{i:05d}", "downloads": i, "tags": ["gguf"]} for i in range(count)
        ]
        hub.serve_raw("/api/models?", json.dumps(entries), count=1)
        started = time.monotonic()
        page = client(hub).search(SearchQuery("bulk")).next_page()
        return page, time.monotonic() - started

    baseline = min(read(2_000)[1] for _ in range(3))
    with faults.inject("a listing page of 20,000 models"):
        page, took = read(20_000)

        assert took < 40 * baseline, (took, baseline)
        assert 0 < len(page) <= 20_000 and page[0].id.startswith("bulk/model-")


def hostile_names(tmp_path: Path) -> dict[str, str]:
    outside = f"/tmp/hearth-escape-{uuid.uuid4().hex}.gguf"
    return {
        "a parent-folder name": "../../../../escaped-Q4_K_M.gguf",
        "a parent folder inside": "Q4/../../../escaped-Q4_K_M.gguf",
        "an absolute path": outside,
        "a path to the test folder": str(tmp_path / "escaped-Q4_K_M.gguf"),
        "a NUL byte": "evil\x00-Q4_K_M.gguf",
        "a very long name": "x" * 5000 + "-Q4_K_M.gguf",
        "a very long folder chain": "/".join(["d" * 200] * 8) + "/Q4_K_M.gguf",
        "a backslash path": "..\\..\\escaped-Q4_K_M.gguf",
    }


def test_hostile_file_names_are_refused_and_nothing_lands_outside_the_cache(
    hub: LoopbackHub, hearth_home: Paths, tmp_path: Path, faults: Tally
) -> None:
    names = hostile_names(tmp_path)
    siblings = [{"rfilename": name, "size": 1000} for name in names.values()]
    info = {
        "_id": "1",
        "id": REPO,
        "sha": SHA,
        "siblings": siblings + [{"rfilename": MODEL, "size": 1000}],
    }
    hub.serve_raw(f"/api/models/{REPO}", json.dumps(info), count=None)
    details = client(hub).details(REPO)  # the page can be shown...
    assert details.id == REPO
    for label, name in names.items():
        with faults.inject(f"a Hub file name with {label}"):
            with pytest.raises(UnsafeFileName, match="refused"):  # ...but nothing downloads
                downloader(hub).download(REPO, name)
            assert stray_files(tmp_path, hearth_home) == []
            assert not Path(names["an absolute path"]).exists()
    assert not list(tmp_path.rglob("escaped-*"))


def test_a_repo_committing_hostile_names_cannot_write_outside(
    loopback_hub: LoopbackHub, hearth_home: Paths, tmp_path: Path, faults: Tally
) -> None:
    """Names served by the Hub's own file list, from a repo that really holds them."""
    names = [n for n in hostile_names(tmp_path).values() if "\x00" not in n and len(n) < 1000]
    loopback_hub.add_repo("org/Evil-GGUF", {name: b"GGUF" + bytes(96) for name in names})
    _, files = downloader(loopback_hub).repo_files("org/Evil-GGUF")
    assert set(files) == set(names)
    for name in names:
        with faults.inject(f"a committed file named {name[:40]!r}"):
            with pytest.raises(HearthError, match="refused"):
                downloader(loopback_hub).download("org/Evil-GGUF", name)
            assert stray_files(tmp_path, hearth_home) == []


def test_a_next_page_link_to_another_origin_never_receives_the_token(
    hub: LoopbackHub, faults: Tally
) -> None:
    token = "hf_TESTSECRET123456789"
    elsewhere = f"{hub.cdn_url}/api/models?cursor=2"  # another origin (another port)
    hub.serve_raw(
        "/api/models?",
        json.dumps([{"id": "org/a"}]),
        count=1,
        headers={"Link": f'<{elsewhere}>; rel="next"'},
    )
    with faults.inject("a Link header pointing to another origin"):
        pages = HubClient(hub.url, token=token, sleep=lambda _: None).search(SearchQuery("a"))
        pages.next_page()
        try:
            pages.next_page()
        except HearthError:
            pass  # refusing to follow it is fine too

        sent = [r for r in hub.requests if r.headers.get("authorization") == f"Bearer {token}"]
        assert sent, "the token was not sent to the Hub itself"
        assert all(r.path.startswith("/api/models?") and "cursor" not in r.path for r in sent)
        leaked = hub.requests_matching("cursor=2")
        assert all("authorization" not in r.headers for r in leaked), "the token went elsewhere"
