"""The loopback Hub, driven by the real huggingface_hub client: what the client sees is what the app sees."""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import disable_progress_bars

from app.bench.hub.repos import git_blob_id
from tests.support.hub_repos import add_gguf_family, gguf_name, mmproj_name, split_bytes
from tests.support.hub_server import LoopbackHub

REPO = "org/Tiny-GGUF"
Q4 = gguf_name("Tiny", "Q4_K_M")  # Tiny-Q4_K_M.gguf


@pytest.fixture(autouse=True)
def plain_http_client(monkeypatch: pytest.MonkeyPatch):
    """Plain HTTP (no Xet), no telemetry look-ups, no progress-bar monitor thread; all restored after."""
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    with disable_progress_bars():
        yield


@pytest.fixture
def tiny(loopback_hub: LoopbackHub) -> dict[str, bytes]:
    """A GGUF repo: a single-file quant, a two-shard quant and a projector, beside README/config."""
    q8 = os.urandom(90_000)
    files = {
        Q4: os.urandom(60_000),
        **dict(
            zip(
                [gguf_name("Tiny", "Q8_0", part=i, parts=2) for i in (1, 2)],
                split_bytes(q8, 2),
                strict=True,
            )
        ),
        mmproj_name("Tiny"): os.urandom(5_000),
    }
    add_gguf_family(loopback_hub, REPO, files, downloads=42, likes=7)
    return files


def download(hub: LoopbackHub, filename: str, cache: Path, repo: str = REPO, **kwargs) -> bytes:
    kwargs.setdefault("token", False)
    path = hf_hub_download(repo, filename, endpoint=hub.url, cache_dir=cache, **kwargs)
    return Path(path).read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def raw_get(url: str, headers: dict[str, str] | None = None) -> Iterator[http.client.HTTPResponse]:
    """A plain GET with http.client, outside huggingface_hub."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}", headers=headers or {})
        yield connection.getresponse()
    finally:
        connection.close()


# -- listing ----------------------------------------------------------------------------------------


def test_list_models_filters_and_sorts(loopback_hub: LoopbackHub, tiny: dict) -> None:
    loopback_hub.add_repo("org/Other-GGUF", {"model.Q2_K.gguf": b"x"}, downloads=100, likes=1)
    loopback_hub.add_repo(
        "someone/tiny-safetensors",
        {"config.json": b"{}"},
        downloads=500,
        likes=99,
        library_name="transformers",
    )
    api = HfApi(endpoint=loopback_hub.url, token=False)

    assert [m.id for m in api.list_models(filter="gguf", sort="downloads")] == [
        "org/Other-GGUF",
        REPO,
    ]
    assert [m.id for m in api.list_models(search="tiny", sort="likes")] == [
        "someone/tiny-safetensors",
        REPO,
    ]
    assert [m.id for m in api.list_models(author="someone")] == ["someone/tiny-safetensors"]
    assert [m.id for m in api.list_models(filter=["gguf", "transformers"])] == []
    listed = next(iter(api.list_models(search="Tiny-GGUF")))
    assert (listed.downloads, listed.likes, "gguf" in listed.tags) == (42, 7, True)
    assert (
        listed.gguf is None and listed.siblings is None
    )  # the Hub's default listing carries neither


def test_list_models_expand_and_full(loopback_hub: LoopbackHub, tiny: dict) -> None:
    api = HfApi(endpoint=loopback_hub.url, token=False)

    expanded = next(iter(api.list_models(search="Tiny", expand=["gguf", "downloads"])))
    assert expanded.gguf["architecture"] == "llama" and expanded.downloads == 42
    assert expanded.likes is None  # expand returns only what it names
    full = next(iter(api.list_models(search="Tiny", full=True)))
    assert {s.rfilename for s in full.siblings} >= {Q4, "README.md", ".gitattributes"}
    assert full.author == "org" and full.sha is not None


def test_list_models_follows_link_pagination(loopback_hub: LoopbackHub) -> None:
    for i in range(150):
        loopback_hub.add_repo(f"bulk/model-{i:03d}", {"README.md": b"x"}, downloads=i)
    api = HfApi(endpoint=loopback_hub.url, token=False)

    everything = list(api.list_models(author="bulk", sort="downloads"))
    assert len(everything) == 150 and everything[0].id == "bulk/model-149"
    assert len({m.id for m in everything}) == 150
    assert (
        len(loopback_hub.requests_matching("/api/models?")) == 2
    )  # 100 + 50, via Link: rel="next"

    assert len(list(api.list_models(author="bulk", limit=5))) == 5
    assert len(loopback_hub.requests_matching("/api/models?")) == 3  # no second page asked for


# -- repo info and trees ----------------------------------------------------------------------------


def test_model_info_files_metadata_matches_the_bytes(loopback_hub: LoopbackHub, tiny: dict) -> None:
    info = HfApi(endpoint=loopback_hub.url, token=False).model_info(REPO, files_metadata=True)

    siblings = {s.rfilename: s for s in info.siblings}
    for name, data in tiny.items():
        assert siblings[name].size == len(data)
        assert siblings[name].lfs.sha256 == sha256(data)
        assert siblings[name].lfs.size == len(data)
    readme = loopback_hub.repo(REPO).head.files["README.md"].open().read()
    assert siblings["README.md"].lfs is None and siblings["README.md"].blob_id == git_blob_id(
        readme
    )
    assert info.sha == loopback_hub.repo(REPO).head.sha and len(info.sha) == 40
    assert info.card_data.base_model == "example/Base-Model"
    assert info.gguf["context_length"] == 4096 and info.gated is False and info.safetensors is None


def test_repo_errors_are_typed(loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path) -> None:
    api = HfApi(endpoint=loopback_hub.url, token=False)

    with pytest.raises(RepositoryNotFoundError):
        api.model_info("org/missing")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="v9")
    with pytest.raises(EntryNotFoundError):
        download(loopback_hub, "Tiny-Q5_K_M.gguf", tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        download(loopback_hub, Q4, tmp_path, repo="org/missing")
    assert api.model_info(REPO, revision=api.model_info(REPO).sha).id == REPO


def test_list_repo_tree_and_paths_info(loopback_hub: LoopbackHub) -> None:
    loopback_hub.add_repo(
        "org/Nested",
        {
            "README.md": b"# n",
            "Q8_0/a-00001-of-00002.gguf": b"1",
            "Q8_0/a-00002-of-00002.gguf": b"2",
        },
    )
    api = HfApi(endpoint=loopback_hub.url, token=False)

    top = {entry.path: type(entry).__name__ for entry in api.list_repo_tree("org/Nested")}
    assert top == {"README.md": "RepoFile", "Q8_0": "RepoFolder"}
    inner = [entry.path for entry in api.list_repo_tree("org/Nested", path_in_repo="Q8_0")]
    assert inner == ["Q8_0/a-00001-of-00002.gguf", "Q8_0/a-00002-of-00002.gguf"]
    every = list(api.list_repo_tree("org/Nested", recursive=True, expand=True))
    assert len(every) == 4 and all(entry.last_commit is not None for entry in every)
    infos = api.get_paths_info("org/Nested", ["README.md", "Q8_0", "nope.gguf"])
    assert [(type(i).__name__, i.path) for i in infos] == [
        ("RepoFile", "README.md"),
        ("RepoFolder", "Q8_0"),
    ]
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree("org/Nested", path_in_repo="missing"))


# -- downloads ----------------------------------------------------------------------------------------


def test_small_files_are_served_directly(
    loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path
) -> None:
    readme = download(loopback_hub, "README.md", tmp_path)

    assert readme.startswith(b"---\nbase_model:")
    assert not loopback_hub.requests_matching("/repos/")  # no CDN hop for a regular git file


def test_lfs_download_goes_through_the_cdn_redirect(
    loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path
) -> None:
    data = download(loopback_hub, Q4, tmp_path)

    assert sha256(data) == sha256(tiny[Q4])
    (head,) = loopback_hub.requests_matching(f"/resolve/main/{Q4}")
    (get,) = loopback_hub.requests_matching("/repos/")
    assert (head.method, get.method) == ("HEAD", "GET")


def test_get_hf_file_metadata_reads_the_redirect(loopback_hub: LoopbackHub, tiny: dict) -> None:
    meta = get_hf_file_metadata(hf_hub_url(REPO, Q4, endpoint=loopback_hub.url), token=False)

    assert (meta.etag, meta.size) == (sha256(tiny[Q4]), len(tiny[Q4]))
    assert meta.commit_hash == loopback_hub.repo(REPO).head.sha
    assert meta.location.startswith(loopback_hub.cdn_url)


def test_large_file_streams_in_chunks(loopback_hub: LoopbackHub, tmp_path: Path) -> None:
    big = tmp_path / "Big-Q8_0.gguf"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    loopback_hub.add_repo("org/Big-GGUF", {big.name: big})

    data = download(loopback_hub, big.name, tmp_path / "cache", repo="org/Big-GGUF")

    assert len(data) == big.stat().st_size and sha256(data) == sha256(big.read_bytes())


def test_cdn_answers_ranges_with_206(loopback_hub: LoopbackHub, tiny: dict) -> None:
    location = get_hf_file_metadata(
        hf_hub_url(REPO, Q4, endpoint=loopback_hub.url), token=False
    ).location
    size = len(tiny[Q4])

    with raw_get(location, {"Range": "bytes=100-199"}) as response:
        assert (
            response.status == 206 and response.headers["Content-Range"] == f"bytes 100-199/{size}"
        )
        assert response.read() == tiny[Q4][100:200]
    with raw_get(location, {"Range": "bytes=-10"}) as response:
        assert response.status == 206 and response.read() == tiny[Q4][-10:]
    with raw_get(location, {"Range": f"bytes={size}-"}) as response:
        assert response.status == 416 and response.headers["Content-Range"] == f"bytes */{size}"
        response.read()


# -- gated repos ----------------------------------------------------------------------------------------


def test_gated_repo_needs_a_valid_token(loopback_hub: LoopbackHub, tmp_path: Path) -> None:
    loopback_hub.add_repo("meta/Gated-GGUF", {Q4: b"weights" * 100}, gated=True)
    loopback_hub.valid_tokens.add("hf_granted")
    api = HfApi(endpoint=loopback_hub.url, token=False)

    assert api.model_info("meta/Gated-GGUF").gated == "auto"
    with pytest.raises(GatedRepoError) as anonymous:
        download(loopback_hub, Q4, tmp_path, repo="meta/Gated-GGUF")
    assert anonymous.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as refused:
        download(loopback_hub, Q4, tmp_path, repo="meta/Gated-GGUF", token="hf_not_granted")
    assert refused.value.response.status_code == 403

    assert (
        download(loopback_hub, Q4, tmp_path, repo="meta/Gated-GGUF", token="hf_granted")
        == b"weights" * 100
    )
    (cdn,) = loopback_hub.requests_matching("/repos/")
    assert "authorization" not in cdn.headers  # the client keeps the token off the CDN origin
    assert (
        loopback_hub.requests_matching(f"/resolve/main/{Q4}")[-1].headers["authorization"]
        == "Bearer hf_granted"
    )


def test_private_repo_is_invisible_without_a_valid_token(loopback_hub: LoopbackHub) -> None:
    loopback_hub.add_repo("me/Private-GGUF", {Q4: b"secret"}, private=True)
    loopback_hub.valid_tokens.add("hf_mine")

    assert list(HfApi(endpoint=loopback_hub.url, token=False).list_models(search="Private")) == []
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=loopback_hub.url, token=False).model_info("me/Private-GGUF")
    assert (
        HfApi(endpoint=loopback_hub.url, token="hf_mine").model_info("me/Private-GGUF").private
        is True
    )


# -- faults ----------------------------------------------------------------------------------------------


def test_a_500_on_head_is_retried_once_without_waiting(
    loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path
) -> None:
    loopback_hub.fail(f"/resolve/main/{Q4}", status=500, method="HEAD")

    assert download(loopback_hub, Q4, tmp_path) == tiny[Q4]
    assert [r.method for r in loopback_hub.requests_matching(f"/resolve/main/{Q4}")] == [
        "HEAD",
        "HEAD",
    ]


def test_a_500_on_the_file_get_is_raised(
    loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path
) -> None:
    loopback_hub.fail(Q4, status=500, method="GET")

    with pytest.raises(HfHubHTTPError) as failure:
        download(loopback_hub, Q4, tmp_path)
    assert failure.value.response.status_code == 500
    assert not list(tmp_path.rglob("*.incomplete"))  # the client removes its partial file


def test_drop_after_cuts_the_body_short(loopback_hub: LoopbackHub, tiny: dict) -> None:
    location = get_hf_file_metadata(
        hf_hub_url(REPO, Q4, endpoint=loopback_hub.url), token=False
    ).location
    loopback_hub.drop_after(Q4, 1000)

    with raw_get(location) as response:
        assert int(response.headers["Content-Length"]) == len(tiny[Q4])
        with pytest.raises(http.client.IncompleteRead) as short:
            response.read()
    assert len(short.value.partial) == 1000


def test_client_resumes_a_dropped_download_with_range(
    loopback_hub: LoopbackHub, tmp_path: Path
) -> None:
    # The client writes in 10 MiB chunks: bytes of an unfinished chunk are lost, so drop past the first one.
    payload = os.urandom(12 * 1024 * 1024)
    loopback_hub.add_repo("org/Resume-GGUF", {"Resume-Q8_0.gguf": payload})
    loopback_hub.drop_after("Resume-Q8_0.gguf", 11 * 1024 * 1024)

    data = download(
        loopback_hub, "Resume-Q8_0.gguf", tmp_path, repo="org/Resume-GGUF"
    )  # after a 1 s pause

    assert sha256(data) == sha256(payload)
    gets = loopback_hub.requests_matching("/repos/", method="GET")
    assert [g.headers.get("range") for g in gets] == [
        None,
        f"bytes={constants.DOWNLOAD_CHUNK_SIZE}-",
    ]


def test_a_drop_inside_the_first_chunk_restarts_from_zero(
    loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path
) -> None:
    loopback_hub.drop_after(Q4, 4096)

    assert download(loopback_hub, Q4, tmp_path) == tiny[Q4]  # after a 1 s pause
    gets = loopback_hub.requests_matching("/repos/", method="GET")
    assert [g.headers.get("range") for g in gets] == [None, None]


def test_corrupt_bytes_pass_the_client_unnoticed(
    loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path
) -> None:
    loopback_hub.corrupt(REPO, Q4)

    data = download(loopback_hub, Q4, tmp_path)

    assert len(data) == len(tiny[Q4])  # the client checks the size only...
    info = HfApi(endpoint=loopback_hub.url, token=False).model_info(REPO, files_metadata=True)
    advertised = next(s.lfs.sha256 for s in info.siblings if s.rfilename == Q4)
    assert sha256(data) != advertised  # ...so verifying the sha256 is the app's job


def test_replaced_file_gets_a_new_commit_and_etag(
    loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path
) -> None:
    url = hf_hub_url(REPO, Q4, endpoint=loopback_hub.url)
    before = get_hf_file_metadata(url, token=False)

    new_sha = loopback_hub.replace_file(REPO, Q4, b"new weights")

    after = get_hf_file_metadata(url, token=False)
    assert after.commit_hash == new_sha != before.commit_hash
    assert after.etag == sha256(b"new weights") != before.etag
    assert download(loopback_hub, Q4, tmp_path) == b"new weights"
    assert (
        download(loopback_hub, Q4, tmp_path, revision=before.commit_hash) == tiny[Q4]
    )  # old commit stays


def test_slow_throttles_the_body(loopback_hub: LoopbackHub, tiny: dict, tmp_path: Path) -> None:
    """A body throttled to N bytes a second arrives no sooner than its size allows (less the
    first twentieth of a second's piece, sent at once): a quarter of a second for 5,000 bytes at
    20,000 a second, or slower, so that it stays four times what the same download takes here
    unthrottled, now. The throttle only adds waits: no load can make it arrive sooner."""
    name = mmproj_name("Tiny")  # 5 000 bytes
    started = time.monotonic()
    plain = download(loopback_hub, name, tmp_path / "plain")
    baseline = time.monotonic() - started
    rate = min(20_000, int(5_000 / (4 * baseline + 0.05)))
    loopback_hub.slow(name, bytes_per_second=rate)

    started = time.monotonic()
    throttled = download(loopback_hub, name, tmp_path / "slow")
    took = time.monotonic() - started

    assert throttled == plain == tiny[name]
    assert took >= 5_000 / rate - 0.05 > baseline, (took, rate, baseline)


def test_unknown_endpoints_answer_harmlessly(loopback_hub: LoopbackHub) -> None:
    with raw_get(f"{loopback_hub.url}/api/agent-harnesses?") as response:
        assert (
            response.status == 200
            and response.read() == b'{"standardEnvVars": [], "harnesses": {}}'
        )
    with raw_get(f"{loopback_hub.url}/api/whoami-v2?") as response:
        assert response.status == 401  # no token
        response.read()


def test_whoami_knows_valid_tokens_only(loopback_hub: LoopbackHub) -> None:
    loopback_hub.valid_tokens.add("hf_Valid")
    loopback_hub.token_users["hf_Valid"] = "ada"
    api = HfApi(endpoint=loopback_hub.url)

    assert api.whoami(token="hf_Valid")["name"] == "ada"
    with pytest.raises(HfHubHTTPError, match="Invalid user token") as refused:
        api.whoami(token="hf_Wrong")
    assert refused.value.response.status_code == 401


def test_stop_cuts_keep_alive_connections_and_joins_threads(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    hub = LoopbackHub().start()
    hub.add_repo("org/x", {"README.md": b"hello"})
    assert (
        download(hub, "README.md", tmp_path, repo="org/x") == b"hello"
    )  # leaves a pooled connection

    hub.stop()

    assert set(threading.enumerate()) - before == set()
    assert hub.server_errors == []
