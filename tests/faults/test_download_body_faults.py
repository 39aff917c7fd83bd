"""Answers that are not the file: an error page sent with status 200, a body of the wrong length.

Against the loopback Hub (real huggingface_hub client, real HTTP). Nothing of such an answer may
reach the part file: the download retries and ends verified, or ends with a clear message and
the bytes downloaded before kept.
"""

from __future__ import annotations

import pytest

from app.core.common.errors import DownloadError
from app.core.common.paths import Paths
from tests.faults.tally import Tally
from tests.faults.test_download_faults import (
    NAME,
    REPO,
    assert_nothing_presented,
    assert_verified,
    downloader,
    file_gets,
)
from tests.support.hub_server import LoopbackHub

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("plain_http_client")]

ERROR_PAGE = "<html><body><h1>502 Bad Gateway</h1><p>Try again later.</p></body></html>"


@pytest.fixture
def hub(loopback_hub: LoopbackHub, payload: bytes) -> LoopbackHub:
    from tests.support.hub_repos import add_gguf_family

    add_gguf_family(loopback_hub, REPO, {NAME: payload})
    return loopback_hub


@pytest.fixture(scope="module")
def payload() -> bytes:
    from tests.faults.test_download_faults import model_bytes

    return model_bytes(1)


@pytest.fixture
def sleeps() -> list[float]:
    return []


def serve_page(hub: LoopbackHub, count: int = 1, **kwargs) -> None:
    """The file's next ``count`` GETs answered 200 with ``ERROR_PAGE`` (or ``kwargs``)."""
    kwargs.setdefault("content_type", "text/html; charset=utf-8")
    hub.serve_raw(
        f"file={NAME}",
        kwargs.pop("body", ERROR_PAGE),
        status=200,
        count=count,
        method="GET",
        **kwargs,
    )


def test_an_error_page_sent_with_200_is_not_appended(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    serve_page(hub)
    with faults.inject("an HTML error page with status 200 at the start of a download"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub) == [None, None]  # not resumed behind the page: started again
        assert_verified(result, payload, hearth_home)


def test_an_error_page_on_resume_keeps_the_part_downloaded_before(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    hub.drop_after(NAME, 1_000_000)
    serve_page(hub, skip=1)  # the GET that resumes from byte 1,000,000
    with faults.inject("an HTML error page with status 200 where a resumed part was due"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub) == [None, "bytes=1000000-", "bytes=1000000-"]
        assert_verified(result, payload, hearth_home)


def test_a_body_of_the_wrong_length_is_not_appended(
    hub: LoopbackHub, payload: bytes, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    serve_page(hub, body=b"\0" * 1000, content_type="application/octet-stream")
    with faults.inject("a 200 answer 1,000 bytes long for a 3 MB file"):
        result = downloader(hub, sleeps).download(REPO, NAME)

        assert file_gets(hub) == [None, None]
        assert_verified(result, payload, hearth_home)


def test_error_pages_every_time_end_in_one_message(
    hub: LoopbackHub, sleeps: list, hearth_home: Paths, faults: Tally
) -> None:
    serve_page(hub, count=None)
    with faults.inject("an HTML error page with status 200 at every attempt"):
        with pytest.raises(
            DownloadError,
            match=r"The file host sent a web page \(text/html\) "
            r"instead of the file\. Gave up after 3 tries",
        ):
            downloader(hub, sleeps, attempts=3).download(REPO, NAME)

        assert_nothing_presented(hearth_home)
