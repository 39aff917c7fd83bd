"""The network half of :mod:`app.core.downloads.downloader`: ranged GETs, retries with backoff, progress.

Bytes go through huggingface_hub's own HTTP session (``get_session()``), straight from the
transport's chunks to the part file and the running hash, with no re-chunking. The token is sent
only to the Hub endpoint's origin, never to the CDN a file redirects to.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar
from urllib.parse import urlsplit

from app.core.common.errors import DownloadCancelled, DownloadError, GatedModelError, NotEnoughSpace
from app.core.compat.hf_hub import blob_lock

if TYPE_CHECKING:
    import httpx2  # huggingface_hub's HTTP client

log = logging.getLogger("hearth.downloads")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0
PAUSED = "The download was paused. Resume it to continue."


@dataclass(frozen=True)
class Progress:
    """Where a download stands.

    ``phase``: downloading, verifying, waiting (before a retry) or done.
    """

    done: int
    total: int
    speed: float  # bytes per second, smoothed
    phase: str = "downloading"
    file: str = ""
    message: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff: ``backoff * 2**n`` s, at most ``cap``, ``attempts`` in a row."""

    attempts: int = 6
    backoff: float = 1.0
    cap: float = 30.0
    sleep: Callable[[float], object] | None = None  # None: wait on the stop event (interruptible)


class Meter:
    """Adds up progress over a model's files, smooths the speed, and throttles callbacks."""

    def __init__(
        self, callback: Callable[[Progress], object] | None, interval: float = 0.1
    ) -> None:
        self.callback, self.interval = callback, interval
        self.total = self.done = 0
        self.file, self.phase, self.message = "", "downloading", ""
        self.speed = 0.0
        self.rebase()

    def rebase(self) -> None:
        """Start measuring speed from now (after bytes that were not downloaded, e.g. re-hashed)."""
        self._mark, self._mark_done, self._last = time.monotonic(), self.done, 0.0

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self.emit(now=now)

    def set(self, phase: str, message: str = "") -> None:
        self.phase, self.message = phase, message
        self.emit()

    def emit(self, *, now: float | None = None) -> None:
        now = now or time.monotonic()
        if now - self._mark >= 0.5:
            rate = (self.done - self._mark_done) / (now - self._mark)
            self.speed = rate if not self.speed else 0.6 * self.speed + 0.4 * rate
            self._mark, self._mark_done = now, self.done
        self._last = now
        if self.callback is not None:
            self.callback(
                Progress(
                    self.done, self.total, max(self.speed, 0.0), self.phase, self.file, self.message
                )
            )


class Hasher(Protocol):
    """A running hash of a file's bytes (hashlib's sha256 or sha1)."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class PartState:
    """A part file being written and the running hash of its bytes."""

    def __init__(self, part: Path, done: int, new_hasher: Callable[[], Hasher]) -> None:
        self.part, self.done, self.new_hasher = part, done, new_hasher
        self.hasher = new_hasher()

    def restart(self, meter: Meter) -> None:
        meter.done -= self.done
        self.part.write_bytes(b"")
        self.done, self.hasher = 0, self.new_hasher()

    def rehash(self, meter: Meter, stop: threading.Event) -> None:
        """Hash what an earlier attempt left in the part file, so the final check covers it."""
        if not self.done:
            return
        meter.set("verifying", "Checking the part downloaded before")
        with open(self.part, "rb") as part:
            while chunk := part.read(8 << 20):
                self.hasher.update(chunk)
                if stop.is_set():
                    raise DownloadCancelled(PAUSED)
        meter.advance(self.done)
        meter.rebase()
        meter.set("downloading")


class ShortBody(Exception):
    """The body ended before the file did: retried from where it stopped."""


class WrongBody(Exception):
    """The answer is not the expected bytes of the file (an error page sent with status 200, a
    length that does not match): nothing of it is written, and it is retried."""


HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def body_problem(response: httpx2.Response, done: int, size: int, url: str) -> str | None:
    """Why ``response`` is not the file's bytes from ``done`` on, checked before any is kept.

    A file host or a proxy that fails may still answer 200, with an HTML page; appended to the
    part file, the next attempt would resume behind it and the whole download would be thrown
    away at the checksum."""
    status = response.status_code
    if status not in (200, 206):
        return f"an unexpected answer (HTTP {status}) instead of the file"
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind in HTML_TYPES and not urlsplit(url).path.lower().endswith((".html", ".htm")):
        return f"a web page ({kind}) instead of the file"
    expected = size - done if status == 206 else size
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) != expected:
        return f"{int(length):,} bytes where {expected:,} were expected"
    return None


def new_hasher(sha256: str | None, blob_id: str | None, size: int) -> Hasher:
    """sha256 for LFS files; the git blob id (sha1 of a header and the bytes) for small files."""
    if sha256 or not blob_id:
        return hashlib.sha256()
    git = hashlib.sha1()
    git.update(f"blob {size}\0".encode())
    return git


def transfer(
    url: str,
    state: PartState,
    size: int,
    *,
    meter: Meter,
    stop: threading.Event,
    endpoint: str,
    token: str | None,
    timeout: float,
) -> None:
    """GET ``url`` from ``state.done`` on (``Range``), appending to the part file and the hash."""
    import httpx2
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    if state.done >= size:
        return
    same_origin = _origin(url) == _origin(endpoint)
    headers = build_hf_headers(token=token if same_origin and token else False)
    headers["Accept-Encoding"] = "identity"
    if state.done:
        headers["Range"] = f"bytes={state.done}-"
    limits = httpx2.Timeout(timeout, connect=min(timeout, 10.0))
    with get_session().stream("GET", url, headers=headers, timeout=limits) as response:
        status = response.status_code
        if status < 400 and (problem := body_problem(response, state.done, size, url)):
            raise WrongBody(problem)  # before anything touches the part file
        if status == 416 or (state.done and status == 200):
            log.info("The server would not resume %s; starting it again", meter.file)
            state.restart(meter)
            if status == 416:
                raise ShortBody("the server refused to resume")
        elif status >= 400:
            response.read()
            hf_raise_for_status(response)
        elif state.done and not response.headers.get("Content-Range", "").startswith(
            f"bytes {state.done}-"
        ):
            raise DownloadError("The server sent the wrong part of the file; try again later.")
        with open(state.part, "ab") as out:
            for chunk in response.iter_raw():
                out.write(chunk)
                state.hasher.update(chunk)
                state.done += len(chunk)
                meter.advance(len(chunk))
                if stop.is_set():
                    raise DownloadCancelled(PAUSED)
    if state.done != size:
        if state.done > size:
            state.restart(meter)
            raise ShortBody("the server sent more bytes than the file has")
        raise ShortBody(f"the connection closed after {state.done:,} of {size:,} bytes")


T = TypeVar("T")


def retrying(
    action: Callable[[], T],
    policy: RetryPolicy,
    *,
    stop: threading.Event,
    meter: Meter,
    explain: Callable[[BaseException], DownloadError],
    what: str,
    progress_of: Callable[[], int] = lambda: 0,
) -> T:
    """Run ``action`` until it succeeds, retrying network failures with backoff.

    Failures in a row are counted; bytes received reset the count. Errors retrying cannot fix go
    through ``explain`` into a message for the user.
    """
    failures = tries = 0
    while True:
        if stop.is_set():
            raise DownloadCancelled(PAUSED)
        before = progress_of()
        try:
            return action()
        except DownloadError:
            raise
        except Exception as exc:  # noqa: BLE001 - sorted into retryable and user errors here
            wait = retry_after(exc)
            if wait is None:
                raise explain(exc) from exc
            failures = 1 if progress_of() > before else failures + 1
            tries += 1
            reason = describe(exc)
            if failures >= policy.attempts or tries >= policy.attempts * 5:
                raise DownloadError(
                    f"{reason}. Gave up after {tries} tries; what was downloaded "
                    "is kept, so retrying later resumes from there."
                ) from exc
            delay = wait or min(policy.cap, policy.backoff * 2 ** (failures - 1))
            log.warning("%s (%s); retrying in %.0f s", reason, what, delay)
            meter.set("waiting", f"{reason}; retrying in {delay:.0f} s")
            (policy.sleep or stop.wait)(delay)
            meter.set("downloading")


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asks to wait (0: use the backoff), or None when retrying cannot help."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(
        exc,
        (
            ShortBody,
            WrongBody,
            httpx2.TimeoutException,
            httpx2.NetworkError,
            httpx2.RemoteProtocolError,
        ),
    ):
        return 0.0
    response = exc.response if isinstance(exc, HfHubHTTPError) else None
    if response is None or response.status_code not in RETRY_STATUSES:
        return None
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        wait = parsedate_to_datetime(value).timestamp() - time.time()
        return min(max(wait, 0.0), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return 0.0


def describe(exc: BaseException) -> str:
    """One line on a retryable failure."""
    import httpx2

    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"The Hub answered {response.status_code} ({response.reason_phrase or 'error'})"
    if isinstance(exc, ShortBody):
        return f"The connection dropped: {exc}"
    if isinstance(exc, WrongBody):
        return f"The file host sent {exc}"
    if isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError)):
        return "The connection dropped"
    if isinstance(exc, httpx2.TimeoutException):
        return "The Hub did not answer in time"
    return f"Could not reach the Hub ({exc.__class__.__name__})"


def user_error(exc: BaseException, repo_id: str, name: str, token: str | None) -> DownloadError:
    """A message a user can act on, for an error that retrying will not fix."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        if token:
            return GatedModelError(
                f"{repo_id} is gated and your Hugging Face token does not give access to it. "
                "Open the model's page on the Hub, accept its conditions, check the token, and "
                "try again."
            )
        return GatedModelError(
            f"{repo_id} is gated: its authors ask you to log in and accept their conditions. "
            "Accept them on the model's page, then enter a Hugging Face token (or set HF_TOKEN) "
            "and retry."
        )
    if isinstance(exc, RepositoryNotFoundError):
        return DownloadError(
            f"There is no model '{repo_id}' on the Hub (a private one needs a token)."
        )
    if isinstance(exc, RevisionNotFoundError):
        return DownloadError(f"{repo_id} has no such version (branch, tag or commit).")
    if isinstance(exc, EntryNotFoundError):
        return DownloadError(f"{repo_id} has no file called '{name}'.")
    if isinstance(exc, OfflineModeIsEnabled):
        return DownloadError(
            "Hugging Face offline mode is on (HF_HUB_OFFLINE); turn it off to download."
        )
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return DownloadError(f"The Hub refused the download of {name or repo_id} (HTTP {status}).")
    if isinstance(exc, OSError):
        if getattr(exc, "errno", None) == 28:  # ENOSPC
            return NotEnoughSpace(
                "The disk filled up during the download. Free some space and resume it."
            )
        return DownloadError(f"Could not write the download to disk: {exc.strerror or exc}.")
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        # huggingface_hub parsing a page it cannot read (not JSON, fields of the wrong type)
        log.info("The Hub's answer for %s could not be read: %s", repo_id, _one_line(exc))
        log.debug("The Hub's answer for %s could not be read", repo_id, exc_info=exc)
        return DownloadError(
            f"The Hugging Face Hub sent an answer about {repo_id} that Hearth "
            "cannot read. Try again later."
        )
    log.error("Unexpected download failure: %s", _one_line(exc))  # one line on stderr
    log.debug("Unexpected download failure", exc_info=exc)  # the traceback, in the file only
    return DownloadError(f"The download of {name or repo_id} failed ({exc.__class__.__name__}).")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


@contextlib.contextmanager
def locked(lock_path: Path, name: str) -> Iterator[None]:
    """Hold a blob's lock (the one hf_hub_download takes too) for the whole download."""
    guard = blob_lock(lock_path, timeout=0.5)
    try:
        guard.__enter__()
    except TimeoutError as exc:
        raise DownloadError(
            f"{name} is already being downloaded by another Hearth window or "
            "program. Let it finish, or close it and try again."
        ) from exc
    try:
        yield
    finally:
        guard.__exit__(None, None, None)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default
