"""Downloads under fire: Hearth's downloader against the loopback Hub with faults injected.

Every case ends with a verified file (its sha256 is the Hub's, Hearth's GGUF check passes, the
library lists it) or a clear typed error, and no partial file is ever presented as a model
(neither the library nor ``hf_hub_download(local_files_only=True)`` sees one).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from huggingface_hub import try_to_load_from_cache

from app.core.common.errors import ChecksumMismatch, DownloadError, NotEnoughSpace
from app.core.common.paths import Paths, hf_hub_cache
from app.core.downloads.downloader import Downloader, DownloadResult, Progress
from app.core.downloads.http import RetryPolicy
from app.core.gguf import check
from app.core.library import catalog
from tests.faults.gguf_forge import Tensor, forge
from tests.faults.tally import CrashDetected, Tally
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.hub_server import LoopbackHub

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("plain_http_client")]

REPO = "org/Faulty-GGUF"
NAME = gguf_name("Faulty", "F32")  # Faulty-F32.gguf
ROWS = 24_576  # a 32 x ROWS F32 tensor: 3 MiB of weights
ROOT = Path(__file__).resolve().parents[2]
DROP_OFFSETS = sorted(random.Random(20).sample(range(2, 3_100_000), 22)) + [1, 3_145_000]


def model_bytes(seed: int, rows: int = ROWS) -> bytes:
    """A valid GGUF of ``rows`` x 32 F32 weights, random (so a spliced file cannot pass)."""
    header = forge(tensors=[Tensor("token_embd.weight", (32, rows))], data_size=0)
    return header + random.Random(seed).randbytes(32 * rows * 4)


@pytest.fixture(scope="module")
def payload() -> bytes:
    return model_bytes(1)


@pytest.fixture
def hub(loopback_hub: LoopbackHub, payload: bytes) -> LoopbackHub:
    add_gguf_family(loopback_hub, REPO, {NAME: payload})
    return loopback_hub


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff waits asked for (recorded, not slept)."""
    return []


def downloader(hub: LoopbackHub, sleeps: list[float], attempts: int = 6, **kwargs) -> Downloader:
    kwargs.setdefault("token", False)
    return Downloader(
        endpoint=hub.url, retry=RetryPolicy(attempts=attempts, sleep=sleeps.append), **kwargs
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_gets(hub: LoopbackHub) -> list[str | None]:
    """The Range header of each GET of the file's bytes (None: from the start)."""
    return [
        r.headers.get("range")
        for r in hub.requests_matching("/repos/", method="GET")
        if f"file={NAME}" in r.path
    ]


def models(paths: Paths, cache: Path) -> list[catalog.LocalModel]:
    return catalog.list_models(paths.models_dir, cache, home=paths.data_dir, other_apps=False)


def assert_verified(
    result: DownloadResult, expected: bytes, paths: Paths, cache: Path | None = None
) -> None:
    """The file is the Hub's, passes Hearth's GGUF check, and is the library's only model."""
    cache = cache or hf_hub_cache()
    assert sha(result.path.read_bytes()) == sha(expected), "the file differs from the Hub's"
    check.check_file(result.path)
    assert [m.path for m in models(paths, cache)] == [result.path]
    assert not list(cache.rglob("*.part")), "a part file was left behind"


def assert_nothing_presented(paths: Paths, cache: Path | None = None) -> None:
    """No model in the library, nothing for huggingface_hub's offline look-up either."""
    cache = cache or hf_hub_cache()
    assert models(paths, cache) == [], "a partial or bad file is listed as a model"
    assert not isinstance(try_to_load_from_cache(REPO, NAME, cache_dir=cache), str)


# -- dropped connections ---------------------------------------------------------------------


@pytest.mark.parametrize("offset", DROP_OFFSETS)
def test_a_connection_dropped_at_any_byte_resumes_with_range(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally, offset: int
) -> None:
    hub.drop_after(NAME, offset)
    with faults.inject(f"connection dropped at byte {offset:,} of {len(payload):,}"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub) == [None, f"bytes={offset}-"]
        assert_verified(result, payload, hearth_home)


def test_four_drops_in_one_download_each_resume_where_they_stopped(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.drop_after(NAME, 700_000, count=4)
    with faults.inject("four dropped connections in one download"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub) == [None] + [f"bytes={700_000 * i}-" for i in range(1, 5)]
        assert_verified(result, payload, hearth_home)


def test_a_drop_with_no_retries_left_is_a_clear_error_and_resumes_later(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.drop_after(NAME, 1_000_000)
    with faults.inject("connection dropped with no retries left"):
        with pytest.raises(DownloadError, match="connection dropped.*kept"):
            downloader(hub, sleeps, attempts=1).download(REPO, NAME)
        assert_nothing_presented(hearth_home)
        (unfinished,) = Downloader().list_unfinished()
        assert (unfinished.filename, unfinished.done_bytes) == (NAME, 1_000_000)

        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub) == [None, "bytes=1000000-"]
        assert_verified(result, payload, hearth_home)


# -- server errors and slow links --------------------------------------------------------------


def test_bursts_of_5xx_on_every_request_are_retried(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.fail(f"/api/models/{REPO}", status=500, count=2)
    hub.fail("/resolve/", status=503, count=3, method="HEAD")
    hub.fail(NAME, status=502, count=3, method="GET")
    with faults.inject("bursts of 500, 503 and 502"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert sleeps == [1.0, 2.0, 1.0, 2.0, 4.0, 1.0, 2.0, 4.0]
        assert_verified(result, payload, hearth_home)


def test_a_burst_of_429_waits_as_the_server_asks(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.fail(NAME, status=429, count=3, headers={"Retry-After": "3"}, method="GET")
    with faults.inject("a burst of 429 with Retry-After"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert sleeps == [3.0, 3.0, 3.0]
        assert_verified(result, payload, hearth_home)


def test_a_burst_longer_than_the_retries_is_a_clear_error_then_recovers(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.drop_after(NAME, 400_000)
    with pytest.raises(DownloadError):
        downloader(hub, sleeps, attempts=1).download(REPO, NAME)
    hub.fail(NAME, status=503, count=8, method="GET")
    with faults.inject("a 503 burst longer than the retries, on a resume"):
        with pytest.raises(DownloadError, match=r"503.*Gave up after 3 tries.*kept"):
            downloader(hub, sleeps, attempts=3).download(REPO, NAME)
        assert_nothing_presented(hearth_home)

        hub.clear_faults()
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub)[-1] == "bytes=400000-"
        assert_verified(result, payload, hearth_home)


def test_a_slow_server_is_waited_for(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.slow(NAME, bytes_per_second=6_000_000)
    seen: list[Progress] = []
    with faults.inject("a slow server (6 MB/s)"):
        started = time.monotonic()
        result = downloader(hub, sleeps, timeout=2.0).download(REPO, NAME, progress=seen.append)

        assert time.monotonic() - started >= 0.4 and sleeps == []
        assert len({p.done for p in seen}) >= 3  # progress moved while it crawled
        assert_verified(result, payload, hearth_home)


def test_a_stalled_connection_times_out_and_resumes(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.slow(NAME, bytes_per_second=1, count=1)  # a byte, then silence
    with faults.inject("a stalled connection"):
        result = downloader(hub, sleeps, timeout=0.5).download(REPO, NAME)

        gets = file_gets(hub)
        assert len(gets) >= 2 and gets[0] is None and sleeps[:1] == [1.0]
        assert_verified(result, payload, hearth_home)


# -- integrity ---------------------------------------------------------------------------------


def test_wrong_sha256_is_a_clear_error_and_never_a_model(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.corrupt(REPO, NAME)
    with faults.inject("bytes that do not match the sha256"):
        with pytest.raises(ChecksumMismatch, match="not in your library"):
            downloader(hub, sleeps).download(REPO, NAME)

        assert_nothing_presented(hearth_home)
        assert Downloader().list_unfinished() == []
        assert [p for p in hf_hub_cache().rglob("*") if p.is_file() and p.suffix != ".lock"] == []


def test_wrong_sha256_after_a_resume_starts_over_cleanly(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.drop_after(NAME, 2_000_000)
    with pytest.raises(DownloadError):
        downloader(hub, sleeps, attempts=1).download(REPO, NAME)
    hub.corrupt(REPO, NAME)  # the middle byte (in the first part) is now served flipped
    with faults.inject("a corrupt byte before the resume point"):
        result = downloader(hub, sleeps).download(REPO, NAME)  # the part on disk was good

        assert file_gets(hub) == [None, "bytes=2000000-"]
        assert_verified(result, payload, hearth_home)
    hub.clear_faults()
    shutil.rmtree(hf_hub_cache())
    hub.drop_after(NAME, 100_000)
    with pytest.raises(DownloadError):
        downloader(hub, sleeps, attempts=1).download(REPO, NAME)
    hub.corrupt(REPO, NAME)  # now the flipped byte comes after the resume point
    with faults.inject("a corrupt byte after the resume point"):
        with pytest.raises(ChecksumMismatch):
            downloader(hub, sleeps).download(REPO, NAME)
        assert_nothing_presented(hearth_home)

        hub.clear_faults()
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub)[-1] is None  # the bad part was deleted: a fresh start
        assert_verified(result, payload, hearth_home)


def test_a_file_replaced_between_attempts_restarts_and_is_never_spliced(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.drop_after(NAME, 1_500_000)
    with pytest.raises(DownloadError):
        downloader(hub, sleeps, attempts=1).download(REPO, NAME)
    new = model_bytes(2)
    hub.replace_file(REPO, NAME, new)
    with faults.inject("the file replaced on the Hub between two attempts"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub) == [None, None]  # the new version from its first byte
        assert result.commit == hub.repo(REPO).head.sha
        assert_verified(result, new, hearth_home)
        assert Downloader().list_unfinished() == []


def test_a_file_replaced_during_the_retries_keeps_the_pinned_version(
    hub: LoopbackHub, payload: bytes, hearth_home: Paths, faults: Tally
) -> None:
    first_commit = hub.repo(REPO).head.sha
    replaced: list[str] = []

    def sleep_and_replace(_seconds: float) -> None:
        if not replaced:
            replaced.append(hub.replace_file(REPO, NAME, model_bytes(3)))

    hub.drop_after(NAME, 1_200_000)
    with faults.inject("the file replaced on the Hub between two retries"):
        result = Downloader(
            endpoint=hub.url, token=False, retry=RetryPolicy(sleep=sleep_and_replace)
        ).download(REPO, NAME)

        assert replaced and result.commit == first_commit  # resolved once, then pinned
        assert file_gets(hub) == [None, "bytes=1200000-"]
        assert_verified(result, payload, hearth_home)


# -- the disk -------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """An 8 MiB tmpfs (mounting needs root); None where mounting is not permitted."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        yield None
        return
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield folder if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def test_the_disk_filling_up_mid_file_is_a_clear_error_then_resumes(
    loopback_hub: LoopbackHub,
    sleeps: list,
    hearth_home: Paths,
    faults: Tally,
    small_disk: Path | None,
) -> None:
    big = model_bytes(4, rows=49_152)  # 6 MiB: fits the 8 MiB disk, until something else fills it
    add_gguf_family(loopback_hub, REPO, {NAME: big})
    if small_disk is None:
        # No mount here: the disk is "full" through the downloader's free-space probe instead
        # (checked before any byte is written, so nothing is cut mid-file).
        with faults.inject("not enough disk space (free-space probe; mounting not permitted)"):
            with pytest.raises(NotEnoughSpace, match="Not enough free disk space"):
                downloader(loopback_hub, sleeps, free_space=lambda _: 1_000_000).download(
                    REPO, NAME
                )
            assert_nothing_presented(hearth_home)
        return
    cache = small_disk / "hub"
    filler = small_disk / "other-program.bin"

    def fill_the_disk(progress: Progress) -> None:
        if progress.done >= 2_000_000 and not filler.exists():
            with open(filler, "wb") as out:  # another program takes what is left
                with pytest.raises(OSError):
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()

    loopback_hub.slow(NAME, bytes_per_second=10_000_000)  # progress is reported mid-file
    with faults.inject("the disk filled up mid-file (8 MiB tmpfs)"):
        with pytest.raises(NotEnoughSpace, match="disk filled up"):
            downloader(loopback_hub, sleeps, cache_dir=cache).download(
                REPO, NAME, progress=fill_the_disk
            )
        assert_nothing_presented(hearth_home, cache)
        (part,) = cache.rglob("*.part")
        kept = part.stat().st_size
        assert 2_000_000 <= kept < len(big)

        filler.unlink()
        result = downloader(loopback_hub, sleeps, cache_dir=cache).download(REPO, NAME)

        assert file_gets(loopback_hub)[-1] == f"bytes={kept}-"
        assert_verified(result, big, hearth_home, cache)


# -- the process killed --------------------------------------------------------------------------


def kill_child_after(hub: LoopbackHub, nbytes: int) -> int:
    """Run a downloading process, SIGKILL it once it reports ``nbytes``; return what it reported."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.download_child", hub.url, REPO, NAME],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_DISABLE_XET": "1"},
    )
    reported = 0
    watchdog = threading.Timer(60, child.kill)  # a hung child cannot hang the suite
    watchdog.start()
    try:
        for line in child.stdout:
            if line.startswith("progress "):
                reported = int(line.split()[1])
            if reported >= nbytes or line.startswith("done"):
                break
    finally:
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=30)
        watchdog.cancel()
        watchdog.join()
    if child.returncode != -signal.SIGKILL:
        raise CrashDetected(f"the download process ended with {child.returncode}: {err[-500:]}")
    if reported < nbytes:
        raise CrashDetected(f"the download process stopped at {reported} bytes: {err[-500:]}")
    return reported


def test_a_process_killed_three_times_mid_download_resumes_each_time(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.slow(NAME, bytes_per_second=1_500_000)
    kept = 0
    for target in sorted(random.Random(3).sample(range(200_000, 900_000), 3)):
        with faults.inject(f"process SIGKILLed after {target:,} more bytes"):
            kill_child_after(hub, kept + target)
            assert_nothing_presented(hearth_home)
            (part,) = hf_hub_cache().rglob("*.part")
            assert kept < part.stat().st_size < len(payload)  # it moved on from the last kill
            kept = part.stat().st_size
    hub.clear_faults()
    with faults.inject("restart after the kills"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub)[-1] == f"bytes={kept}-"
        assert_verified(result, payload, hearth_home)
