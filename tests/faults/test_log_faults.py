"""Logging under faults: one line on stderr, never a traceback or a flood.

A malformed model page from the (loopback) Hub during a download, and a log file on a full
disk (``/dev/full``: every write fails with ENOSPC), with Hearth's real log set-up.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from app.core.common.errors import DownloadError
from app.core.common.paths import Paths
from tests.faults.tally import CrashDetected, Tally
from tests.faults.test_download_faults import NAME, REPO, assert_nothing_presented, downloader
from tests.support.hub_server import LoopbackHub
from tests.support.logs import hearth_logging

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("plain_http_client")]

MALFORMED_PAGES = {
    "not JSON": "<html>Service unavailable</html>",
    "siblings not a list": '{"id": "org/Faulty-GGUF", "sha": "abc", "siblings": 5}',
    "a file name that is a number": '{"id": "org/Faulty-GGUF", "sha": "abc", '
    '"siblings": [{"rfilename": 5}]}',
    "a commit that is a list": '{"id": "org/Faulty-GGUF", "sha": [1], "siblings": []}',
    "a list": "[1, 2, 3]",
}


@pytest.fixture
def hub(loopback_hub: LoopbackHub) -> LoopbackHub:
    from tests.faults.test_download_faults import model_bytes
    from tests.support.hub_repos import add_gguf_family

    add_gguf_family(loopback_hub, REPO, {NAME: model_bytes(1)})
    return loopback_hub


@pytest.mark.parametrize("page", MALFORMED_PAGES)
def test_a_malformed_model_page_logs_one_line(
    hub: LoopbackHub,
    hearth_home: Paths,
    tmp_path: Path,
    faults: Tally,
    capsys: pytest.CaptureFixture,
    page: str,
) -> None:
    hub.serve_raw(f"/api/models/{REPO}", MALFORMED_PAGES[page], count=None, method="GET")
    with (
        faults.inject(f"malformed model page from the Hub ({page})"),
        hearth_logging(tmp_path / "hearth.log"),
    ):
        with pytest.raises(DownloadError) as failed:
            downloader(hub, []).download(REPO, NAME)

        err = capsys.readouterr().err
        if "Traceback" in err:
            raise CrashDetected(f"a traceback on stderr:\n{err[-1500:]}")
        assert "cannot read" in str(failed.value) and "\n" not in str(failed.value)
        assert len(err.splitlines()) <= 1, err
        assert_nothing_presented(hearth_home)


def test_a_log_file_on_a_full_disk_says_so_once(
    tmp_path: Path, faults: Tally, capsys: pytest.CaptureFixture
) -> None:
    log_file = tmp_path / "logs" / "hearth.log"
    log_file.parent.mkdir()
    os.symlink("/dev/full", log_file)  # every write: ENOSPC, as on a full disk
    with faults.inject("the log folder on a full disk"), hearth_logging(log_file):
        log = logging.getLogger("hearth.test")
        for n in range(200):
            log.info("line %d", n)
            log.warning("warning %d", n)

        err = capsys.readouterr().err
        if "Logging error" in err or "Traceback" in err:
            raise CrashDetected(f"logging printed tracebacks ({len(err):,} characters)")
        notes = [line for line in err.splitlines() if "cannot write its log file" in line]
        assert len(notes) == 1 and "No space left on device" in notes[0], err[:500]
        assert err.count("warning ") == 200  # stderr still gets the warnings
