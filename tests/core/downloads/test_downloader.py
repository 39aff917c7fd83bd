"""The download engine against the loopback Hub, through the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download, scan_cache_dir

from app.core.common.errors import (
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
    GatedModelError,
    NotEnoughSpace,
    UnsafeFileName,
)
from app.core.common.paths import Paths, hf_hub_cache
from app.core.downloads.downloader import Downloader, Progress, choose_file
from app.core.downloads.http import RetryPolicy
from app.core.downloads.store import check_filename
from app.core.gguf.split import split_names
from app.core.library import catalog
from tests.support.hub_repos import add_gguf_family, gguf_name, split_bytes
from tests.support.hub_server import LoopbackHub
from tests.support.logs import hearth_logging

REPO = "org/Tiny-GGUF"
Q4 = gguf_name("Tiny", "Q4_K_M")
SIZE = 2_000_000
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def payload(loopback_hub: LoopbackHub) -> bytes:
    data = os.urandom(SIZE)
    add_gguf_family(loopback_hub, REPO, {Q4: data})
    return data


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff waits a downloader asked for (none is actually slept)."""
    return []


def downloader(hub: LoopbackHub, sleeps: list[float], attempts: int = 6, **kwargs) -> Downloader:
    kwargs.setdefault("token", False)
    return Downloader(
        endpoint=hub.url, retry=RetryPolicy(attempts=attempts, sleep=sleeps.append), **kwargs
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_gets(hub: LoopbackHub, name: str = Q4) -> list[str | None]:
    """The Range header of each GET of ``name``'s bytes (None: from the start)."""
    return [
        r.headers.get("range")
        for r in hub.requests_matching("/repos/", method="GET")
        if f"file={name}" in r.path
    ]


def parts(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.part"))


# -- the happy path ---------------------------------------------------------------------------------


def test_a_download_lands_in_the_hf_cache_as_the_client_expects(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths
) -> None:
    seen: list[Progress] = []

    result = downloader(loopback_hub, sleeps).download(REPO, Q4, progress=seen.append)

    cache = hf_hub_cache()
    assert result.path.read_bytes() == payload and result.size_bytes == SIZE
    assert result.path.is_symlink() and result.path.resolve().parent.name == "blobs"
    assert hf_hub_download(REPO, Q4, cache_dir=cache, local_files_only=True) == str(result.path)
    scan = scan_cache_dir(cache)
    assert scan.warnings == [] and [r.repo_id for r in scan.repos] == [REPO]
    assert (cache / "models--org--Tiny-GGUF" / "refs" / "main").read_text() == result.commit
    (model,) = catalog.list_models(hearth_home.models_dir, cache)
    assert (model.source, model.quant, model.path) == ("hf-cache", "Q4_K_M", result.path)
    assert (seen[-1].done, seen[-1].total, seen[-1].phase) == (SIZE, SIZE, "done")
    assert parts(cache) == [] and sleeps == []

    again = downloader(loopback_hub, sleeps).download(REPO, Q4)
    assert again.path == result.path and len(file_gets(loopback_hub)) == 1  # cached: no second GET
    heads = loopback_hub.requests_matching("/resolve/", method="HEAD")
    assert heads and all(
        f"/resolve/{result.commit}/" in h.path for h in heads
    )  # pinned to one commit


# -- interruptions -----------------------------------------------------------------------------------


@pytest.mark.faults
def test_a_dropped_connection_resumes_with_range(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    loopback_hub.drop_after(Q4, 700_000)

    result = downloader(loopback_hub, sleeps).download(REPO, Q4)

    assert file_gets(loopback_hub) == [None, "bytes=700000-"]
    assert sha256(result.path.read_bytes()) == sha256(payload)
    assert sleeps == [1.0]


@pytest.mark.faults
def test_a_failed_download_keeps_its_part_and_resumes_later(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    loopback_hub.drop_after(Q4, 700_000)
    with pytest.raises(DownloadError, match="connection dropped") as failure:
        downloader(loopback_hub, sleeps, attempts=1).download(REPO, Q4)
    assert "kept" in str(failure.value)
    (part,) = parts(hf_hub_cache())
    assert part.stat().st_size == 700_000
    (unfinished,) = Downloader().list_unfinished()
    assert (
        unfinished.repo_id,
        unfinished.filename,
        unfinished.done_bytes,
        unfinished.total_bytes,
    ) == (REPO, Q4, 700_000, SIZE)

    result = downloader(loopback_hub, sleeps).download(
        REPO, Q4
    )  # as after a restart: a new downloader

    assert file_gets(loopback_hub) == [None, "bytes=700000-"]
    assert sha256(result.path.read_bytes()) == sha256(payload)
    assert Downloader().list_unfinished() == [] and parts(hf_hub_cache()) == []


CHILD = """
import sys
from app.core.downloads.downloader import Downloader

def progress(p):
    if p.done >= 100_000 and not progress.told:
        progress.told = True
        print("downloading", flush=True)

progress.told = False
Downloader(endpoint=sys.argv[1], token=False).download(sys.argv[2], sys.argv[3], progress=progress)
print("finished", flush=True)
"""


@pytest.mark.faults
@pytest.mark.slow
def test_a_killed_process_leaves_a_part_that_the_next_one_resumes(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    loopback_hub.slow(Q4, bytes_per_second=200_000)  # 10 s for the whole file: killed long before
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, loopback_hub.url, REPO, Q4],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "downloading"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    loopback_hub.clear_faults()
    (part,) = parts(hf_hub_cache())
    kept = part.stat().st_size
    assert 100_000 <= kept < SIZE

    result = downloader(loopback_hub, sleeps).download(REPO, Q4)

    assert file_gets(loopback_hub) == [None, f"bytes={kept}-"]
    assert sha256(result.path.read_bytes()) == sha256(payload)


@pytest.mark.faults
def test_pause_from_another_thread_keeps_the_part_and_resume_continues(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    loopback_hub.slow(Q4, bytes_per_second=400_000, count=1)
    started, stop, outcome = threading.Event(), threading.Event(), []

    def progress(p: Progress) -> None:
        if p.done > 0:
            started.set()

    def work() -> None:
        try:
            downloader(loopback_hub, sleeps).download(REPO, Q4, progress=progress, stop=stop)
        except DownloadCancelled as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(10)
    stop.set()
    worker.join(10)
    assert len(outcome) == 1 and "paused" in str(outcome[0])
    (part,) = parts(hf_hub_cache())
    kept = part.stat().st_size

    result = downloader(loopback_hub, sleeps).download(REPO, Q4)

    assert 0 < kept < SIZE and file_gets(loopback_hub) == [None, f"bytes={kept}-"]
    assert result.path.read_bytes() == payload


# -- retries ----------------------------------------------------------------------------------------


@pytest.mark.faults
def test_a_429_waits_as_long_as_retry_after_says(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    loopback_hub.fail(Q4, status=429, headers={"Retry-After": "7"}, method="GET")

    result = downloader(loopback_hub, sleeps).download(REPO, Q4)

    assert sleeps == [7.0] and result.path.read_bytes() == payload
    assert file_gets(loopback_hub) == [None, None]


@pytest.mark.faults
def test_a_burst_of_5xx_is_retried_with_exponential_backoff(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    loopback_hub.fail("/resolve/", status=503, count=2, method="HEAD")
    loopback_hub.fail(Q4, status=500, count=2, method="GET")

    result = downloader(loopback_hub, sleeps).download(REPO, Q4)

    assert sleeps == [1.0, 2.0, 1.0, 2.0] and result.path.read_bytes() == payload


@pytest.mark.faults
def test_a_stalled_connection_times_out_and_is_retried(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    loopback_hub.slow(Q4, bytes_per_second=1, count=1)  # one byte a second: a stalled link

    result = downloader(loopback_hub, sleeps, timeout=0.3).download(REPO, Q4)

    assert result.path.read_bytes() == payload and sleeps == [1.0]
    assert len(file_gets(loopback_hub)) == 2


@pytest.mark.faults
def test_retries_are_bounded(loopback_hub: LoopbackHub, payload: bytes, sleeps: list) -> None:
    loopback_hub.fail(Q4, status=503, count=None, method="GET")

    with pytest.raises(DownloadError, match=r"503.*Gave up after 6 tries"):
        downloader(loopback_hub, sleeps).download(REPO, Q4)
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]


# -- integrity --------------------------------------------------------------------------------------


@pytest.mark.faults
def test_a_checksum_mismatch_never_becomes_a_model(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths
) -> None:
    loopback_hub.corrupt(REPO, Q4)

    with pytest.raises(ChecksumMismatch, match="deleted and is not in your library"):
        downloader(loopback_hub, sleeps).download(REPO, Q4)

    cache = hf_hub_cache()
    assert catalog.list_models(hearth_home.models_dir, cache) == []
    assert [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".lock"] == []
    assert Downloader().list_unfinished() == []


@pytest.mark.faults
def test_a_changed_file_restarts_from_zero(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    loopback_hub.drop_after(Q4, 700_000)
    with pytest.raises(DownloadError):
        downloader(loopback_hub, sleeps, attempts=1).download(REPO, Q4)
    new = os.urandom(SIZE)
    loopback_hub.replace_file(REPO, Q4, new)

    result = downloader(loopback_hub, sleeps).download(REPO, Q4)

    assert file_gets(loopback_hub) == [None, None]  # no Range: the old bytes are not spliced in
    assert result.path.read_bytes() == new
    assert parts(hf_hub_cache()) == [] and Downloader().list_unfinished() == []


@pytest.mark.faults
@pytest.mark.parametrize(
    "name",
    [
        "../evil.gguf",
        "a/../../evil.gguf",
        "/etc/evil.gguf",
        "C:/evil.gguf",
        "dir\\..\\evil.gguf",
        "evil\x00.gguf",
        "x" * 300 + ".gguf",
        "./evil.gguf",
        "a//evil.gguf",
        "",
    ],
)
def test_names_that_escape_the_folder_are_refused(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list, name: str
) -> None:
    with pytest.raises(UnsafeFileName, match="refused"):
        downloader(loopback_hub, sleeps).download(REPO, name)
    assert loopback_hub.requests == []


@pytest.mark.faults
def test_a_repo_listing_an_escaping_name_is_refused(
    loopback_hub: LoopbackHub, sleeps: list, tmp_path: Path
) -> None:
    loopback_hub.add_repo("org/Evil-GGUF", {"../../../Evil-Q4_K_M.gguf": b"x" * 100})
    d = downloader(loopback_hub, sleeps)
    _, files = d.repo_files("org/Evil-GGUF")
    with pytest.raises(DownloadError, match="no GGUF model files"):  # never the default pick
        choose_file({n: f.size for n, f in files.items()})

    with pytest.raises(UnsafeFileName, match="points outside"):
        d.download("org/Evil-GGUF", "../../../Evil-Q4_K_M.gguf")
    assert not list(tmp_path.rglob("Evil-Q4_K_M.gguf"))
    assert check_filename("Q8_0/Model-Q8_0-00001-of-00002.gguf")  # subfolders are fine


# -- gated repos, tokens, logs ----------------------------------------------------------------------


@pytest.fixture
def log_file(hearth_home: Paths):
    """Hearth's real log set-up (file handler with the redaction filter), undone after the test."""
    with hearth_logging(hearth_home.log_file) as path:
        yield path


@pytest.mark.faults
def test_a_gated_repo_asks_for_a_token_and_never_logs_it(
    loopback_hub: LoopbackHub, sleeps: list, monkeypatch: pytest.MonkeyPatch, log_file: Path
) -> None:
    secret = "hf_GrantedSecretToken123"
    data = os.urandom(SIZE)
    add_gguf_family(loopback_hub, "meta/Gated-GGUF", {Q4: data}, gated=True)
    loopback_hub.valid_tokens.add(secret)

    with pytest.raises(GatedModelError, match="enter a Hugging Face token"):
        downloader(loopback_hub, sleeps).download("meta/Gated-GGUF", Q4)
    with pytest.raises(GatedModelError, match="does not give access"):
        downloader(loopback_hub, sleeps, token="hf_NotGrantedToken456").download(
            "meta/Gated-GGUF", Q4
        )

    monkeypatch.setenv("HF_TOKEN", secret)  # huggingface_hub's get_token() reads it
    loopback_hub.drop_after(Q4, 500_000)
    with pytest.raises(DownloadError, match="connection dropped"):
        downloader(loopback_hub, sleeps, attempts=1, token=None).download("meta/Gated-GGUF", Q4)
    (sidecar,) = hf_hub_cache().rglob("*.part.json")
    assert secret not in sidecar.read_text()
    result = downloader(loopback_hub, sleeps, token=None).download("meta/Gated-GGUF", Q4)

    assert result.path.read_bytes() == data
    heads = loopback_hub.requests_matching(f"/resolve/{result.commit}/{Q4}", method="HEAD")
    assert heads[-1].headers["authorization"] == f"Bearer {secret}"  # to the Hub...
    cdn = loopback_hub.requests_matching("/repos/")
    assert cdn and all("authorization" not in r.headers for r in cdn)  # ...never to the CDN
    logged = log_file.read_text()
    assert "Downloaded Tiny-Q4_K_M.gguf from meta/Gated-GGUF" in logged and "is gated" in logged
    assert secret not in logged and "hf_NotGrantedToken456" not in logged


# -- disk space, split models, choosing files ---------------------------------------------------------


@pytest.mark.faults
def test_not_enough_space_is_refused_before_downloading(
    loopback_hub: LoopbackHub, payload: bytes, sleeps: list
) -> None:
    asked: list[Path] = []

    def free_space(path: Path) -> int:
        asked.append(path)
        return 1_500_000

    with pytest.raises(NotEnoughSpace, match=r"needs 2\.0 MB more, but .* has 1\.5 MB free"):
        downloader(loopback_hub, sleeps, free_space=free_space).download(REPO, Q4)
    assert file_gets(loopback_hub) == [] and parts(hf_hub_cache()) == []
    assert hf_hub_cache() in asked[0].parents

    loopback_hub.drop_after(Q4, 700_000)
    with pytest.raises(DownloadError):
        downloader(loopback_hub, sleeps, attempts=1).download(REPO, Q4)
    result = downloader(loopback_hub, sleeps, free_space=free_space).download(
        REPO, Q4
    )  # 1.3 MB left
    assert result.path.read_bytes() == payload


def test_a_split_model_downloads_as_one(
    loopback_hub: LoopbackHub, sleeps: list, hearth_home: Paths
) -> None:
    data = os.urandom(900_000)
    shards = [gguf_name("Tiny", "Q8_0", part=i, parts=3) for i in (1, 2, 3)]
    add_gguf_family(loopback_hub, REPO, dict(zip(shards, split_bytes(data, 3), strict=True)))
    seen: list[Progress] = []

    result = downloader(loopback_hub, sleeps).download(REPO, shards[1], progress=seen.append)

    assert result.path.name == shards[0] and [f.name for f in result.files] == shards
    assert b"".join(f.read_bytes() for f in result.files) == data
    assert seen[-1].total == 900_000 and result.size_bytes == 900_000
    (model,) = catalog.list_models(hearth_home.models_dir, hf_hub_cache())
    assert model.path == result.path


def test_choose_file_picks_what_a_user_means() -> None:
    files = {
        "M-Q8_0.gguf": 800,
        "M-Q4_K_M.gguf": 450,
        "M-Q2_K.gguf": 300,
        "mmproj-M-f16.gguf": 100,
        "M-F16-00001-of-00002.gguf": 900,
        "M-F16-00002-of-00002.gguf": 900,
        "README.md": 1,
    }
    assert choose_file(files) == "M-Q4_K_M.gguf"
    assert choose_file(files, "q8_0") == "M-Q8_0.gguf"
    assert choose_file(files, "F16") == "M-F16-00001-of-00002.gguf"
    assert choose_file(files, "M-F16-00002-of-00002.gguf") == "M-F16-00001-of-00002.gguf"
    no_q4 = {k: v for k, v in files.items() if "Q4" not in k}
    assert choose_file(no_q4) == "M-Q8_0.gguf"  # the smallest at Q4 quality or above
    assert choose_file({"M-Q2_K.gguf": 3, "M-IQ1_S.gguf": 2}) == "M-Q2_K.gguf"
    with pytest.raises(DownloadError, match="No Q5_K_M file.*Q2_K, Q4_K_M, Q8_0"):
        choose_file({k: v for k, v in files.items() if "F16" not in k}, "Q5_K_M")
    with pytest.raises(DownloadError, match="Several Q4_K_M"):
        choose_file({"a/M-Q4_K_M.gguf": 1, "b/M-Q4_K_M.gguf": 1})
    with pytest.raises(DownloadError, match="no GGUF"):
        choose_file({"README.md": 1})
    assert split_names("M-00002-of-00003.gguf") == [f"M-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
