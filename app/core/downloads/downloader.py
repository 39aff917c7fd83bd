"""Download models from the Hugging Face Hub: resumable, retried, verified, into the HF cache.

    downloader = Downloader()          # endpoint: HF_ENDPOINT read now; token: HF_TOKEN or stored
    result = downloader.download("org/Model-GGUF", "Model-Q4_K_M.gguf", progress=cb, stop=event)

The real ``huggingface_hub`` client resolves everything: ``model_info(files_metadata=True)`` gives
the commit, sizes and LFS sha256; ``get_hf_file_metadata`` the ETag and the file's location. The
bytes come with ``Range`` into a part file that survives failures, closing the app and SIGKILL
(:mod:`download_store`); network failures are retried with bounded backoff (:mod:`download_http`);
the sha256 is checked before the file enters the cache as ``hf_hub_download`` would have left it.
A split model (``-00001-of-0000N.gguf``) downloads as one. Setting ``stop`` (a threading.Event,
from any thread) ends a download with :class:`DownloadCancelled` and keeps the part file: a
pause. :meth:`Downloader.discard` afterwards makes it a cancel.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from app.core.common.errors import (
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
    NotEnoughSpace,
)
from app.core.common.paths import hf_hub_cache
from app.core.common.units import format_size
from app.core.downloads import store as download_store
from app.core.downloads.http import (
    Meter,
    PartState,
    Progress,
    RetryPolicy,
    locked,
    new_hasher,
    retrying,
    transfer,
    user_error,
)
from app.core.downloads.store import RepoStore, Sidecar, UnfinishedDownload, check_filename
from app.core.gguf import quant_types
from app.core.gguf.split import split_names

__all__ = [
    "DownloadResult",
    "Downloader",
    "Progress",
    "RemoteFile",
    "UnfinishedDownload",
    "choose_file",
    "hub_endpoint",
]

if TYPE_CHECKING:
    from huggingface_hub import HfFileMetadata

log = logging.getLogger("hearth.downloads")
T = TypeVar("T")

DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class DownloadResult:
    repo_id: str
    commit: str
    path: Path  # the model file (shard 1 of a split model), in the cache's snapshot folder
    files: tuple[Path, ...]
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "commit": self.commit,
            "path": str(self.path),
            "files": [str(f) for f in self.files],
            "size_bytes": self.size_bytes,
            "quant": quant_types.quant_from_name(self.path.name),
        }


@dataclass(frozen=True)
class RemoteFile:
    """A file of a repo at one commit, as ``model_info(files_metadata=True)`` describes it."""

    name: str
    size: int
    sha256: str | None  # LFS files
    blob_id: str | None  # git blob id


@dataclass
class _Job:
    repo_id: str
    revision: str
    commit: str
    model_file: str
    store: RepoStore
    meter: Meter
    stop: threading.Event
    token: str | None
    endpoint: str


def hub_endpoint(endpoint: str | None = None) -> str:
    """The Hub to talk to: ``endpoint``, else ``HF_ENDPOINT`` read now, else huggingface.co."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


class Downloader:
    """Downloads model files into the Hugging Face cache. Holds settings only: share it freely."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: str | Literal[False] | None = None,
        cache_dir: Path | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 20.0,
        free_space: Callable[[Path], int] = download_store.free_bytes,
    ) -> None:
        self._endpoint, self._token, self._cache_dir = endpoint, token, cache_dir
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._free_space = free_space

    @property
    def cache_dir(self) -> Path:
        return Path(self._cache_dir) if self._cache_dir else hf_hub_cache()

    def repo_files(
        self, repo_id: str, revision: str = "main", stop: threading.Event | None = None
    ) -> tuple[str, dict[str, RemoteFile]]:
        """The commit ``revision`` names, and the repo's files at that commit."""
        from huggingface_hub import HfApi
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            message = f"'{repo_id}' is not a Hub model name (expected owner/name)."
            raise DownloadError(message) from exc
        token = self._resolve_token()
        api = HfApi(endpoint=hub_endpoint(self._endpoint), token=token or False)

        def read() -> tuple[str, dict[str, RemoteFile]]:  # a malformed page fails in here
            info = api.model_info(repo_id, revision=revision, files_metadata=True)
            files = {
                s.rfilename: RemoteFile(
                    s.rfilename, s.size or 0, s.lfs.sha256 if s.lfs else None, s.blob_id
                )
                for s in info.siblings or []
            }
            if not isinstance(info.sha, str) or not all(isinstance(n, str) for n in files):
                raise TypeError("the commit or a file name is not text")
            return info.sha, files

        return retrying(
            read,
            self.retry,
            stop=stop or threading.Event(),
            meter=Meter(None),
            what=repo_id,
            explain=lambda exc: user_error(exc, repo_id, "", token),
        )

    def download(
        self,
        repo_id: str,
        filename: str,
        *,
        revision: str = "main",
        progress: Callable[[Progress], object] | None = None,
        stop: threading.Event | None = None,
    ) -> DownloadResult:
        """Download ``filename`` (every shard, for a split model) and return where it is."""
        try:
            return self._download(repo_id, filename, revision, progress, stop or threading.Event())
        except DownloadError as exc:
            level = logging.INFO if isinstance(exc, DownloadCancelled) else logging.WARNING
            log.log(level, "Download of %s from %s stopped: %s", filename, repo_id, exc)
            raise

    def _download(
        self,
        repo_id: str,
        filename: str,
        revision: str,
        progress: Callable[[Progress], object] | None,
        stop: threading.Event,
    ) -> DownloadResult:
        check_filename(filename)
        commit, remote = self.repo_files(repo_id, revision, stop)
        names = split_names(filename)
        if missing := [name for name in names if name not in remote]:
            raise DownloadError(f"{repo_id} has no file called '{missing[0]}'.")
        for name in names:
            check_filename(name)
        store = RepoStore(self.cache_dir, repo_id)
        meter = Meter(progress)
        meter.total = sum(remote[name].size for name in names)
        pending = [name for name in names if store.cached(commit, name) is None]
        meter.done = meter.total - sum(remote[name].size for name in pending)
        self._check_space(store, [remote[name] for name in pending], filename)
        log.info(
            "Downloading %s from %s (%s in %d file(s))",
            filename,
            repo_id,
            format_size(meter.total),
            len(names),
        )
        job = _Job(
            repo_id,
            revision,
            commit,
            filename,
            store,
            meter,
            stop,
            self._resolve_token(),
            hub_endpoint(self._endpoint),
        )
        for name in pending:
            self._fetch(job, remote[name])
        store.write_ref(revision, commit)
        files = tuple(store.pointer(commit, name) for name in names)
        meter.set("done")
        log.info("Downloaded %s from %s", filename, repo_id)
        return DownloadResult(repo_id, commit, files[0], files, meter.total)

    def cached(self, repo_id: str, filename: str, commit: str) -> Path | None:
        """The finished file of ``commit`` in the cache, if it is there (a stat, no network):
        a file already here is not queued again."""
        try:
            return RepoStore(self.cache_dir, repo_id).cached(commit, filename)
        except DownloadError:  # not a commit id ("main"): nothing to vouch for
            return None

    def discard(self, repo_id: str, filename: str) -> None:
        """Delete the part files a stopped download of ``filename`` left (pause -> cancel)."""
        store = RepoStore(self.cache_dir, repo_id)
        for sidecar_path in store.root.glob("blobs/*.part.json"):
            sidecar = store.find_sidecar(sidecar_path.name[: -len(".part.json")])
            if sidecar and filename in (sidecar.model_file, sidecar.filename):
                store.discard(sidecar.etag)

    def list_unfinished(self) -> list[UnfinishedDownload]:
        """Downloads that stopped before the end, to offer resuming them after a restart."""
        return download_store.list_unfinished(self.cache_dir)

    def _fetch(self, job: _Job, remote: RemoteFile) -> Path:
        from huggingface_hub import hf_hub_url

        url = hf_hub_url(job.repo_id, remote.name, revision=job.commit, endpoint=job.endpoint)
        job.meter.file = remote.name
        meta = self._retrying(lambda: self._head(url, job), job, remote.name)
        store, etag = job.store, meta.etag
        assert etag is not None  # _head refuses an answer without one
        if store.blob(etag).is_file():  # the same bytes are cached already (another commit)
            job.meter.advance(remote.size)
            return store.link(etag, job.commit, remote.name)
        with locked(store.lock_path(etag), remote.name):
            sidecar = Sidecar(
                job.repo_id,
                remote.name,
                job.model_file,
                job.revision,
                job.commit,
                etag,
                meta.size or remote.size,
                remote.sha256,
                remote.blob_id,
                url,
            )
            state = PartState(
                store.part(etag),
                store.start_partial(sidecar),
                lambda: new_hasher(remote.sha256, remote.blob_id, sidecar.size),
            )
            state.rehash(job.meter, job.stop)
            fresh = [meta]

            def attempt() -> None:
                current = fresh.pop() if fresh else self._head(url, job)  # a fresh CDN link
                if current.etag != etag:
                    raise DownloadError(
                        f"{remote.name} changed on the Hub during the download; start it again."
                    )
                transfer(
                    current.location,
                    state,
                    sidecar.size,
                    meter=job.meter,
                    stop=job.stop,
                    endpoint=job.endpoint,
                    token=job.token,
                    timeout=self.timeout,
                )

            self._retrying(attempt, job, remote.name, lambda: state.done)
            job.meter.set("verifying", "Checking the file against the Hub's checksum")
            self._verify(state, remote, store, etag)
            return store.place(etag, job.commit, remote.name, job.revision)

    def _retrying(
        self,
        action: Callable[[], T],
        job: _Job,
        name: str,
        progress_of: Callable[[], int] = lambda: 0,
    ) -> T:
        return retrying(
            action,
            self.retry,
            stop=job.stop,
            meter=job.meter,
            what=name,
            explain=lambda exc: user_error(exc, job.repo_id, name, job.token),
            progress_of=progress_of,
        )

    def _head(self, url: str, job: _Job) -> HfFileMetadata:
        from huggingface_hub import get_hf_file_metadata

        meta = get_hf_file_metadata(
            url, token=job.token or False, timeout=self.timeout, endpoint=job.endpoint
        )
        if not meta.etag or not meta.location:
            raise DownloadError(
                "The Hub did not say which version of the file to download; try again later."
            )
        return meta

    def _verify(self, state: PartState, remote: RemoteFile, store: RepoStore, etag: str) -> None:
        expected = remote.sha256 or remote.blob_id
        if expected is None:
            log.warning("The Hub publishes no checksum for %s; it was not verified", remote.name)
        elif state.hasher.hexdigest() != expected:
            store.discard(etag)
            log.warning("Checksum mismatch for %s; the download was deleted", remote.name)
            raise ChecksumMismatch(
                f"{remote.name} was damaged on the way: its contents do not match the checksum the "
                "Hub publishes. The bad file was deleted and is not in your library; download it "
                "again."
            )

    def _check_space(self, store: RepoStore, pending: list[RemoteFile], filename: str) -> None:
        remaining = 0
        for remote in pending:
            etag = remote.sha256 or remote.blob_id
            sidecar = store.find_sidecar(etag) if etag else None
            part = store.part(etag) if etag and sidecar and sidecar.size == remote.size else None
            remaining += remote.size - (part.stat().st_size if part and part.exists() else 0)
        free = self._free_space(store.root)
        if remaining > free:
            raise NotEnoughSpace(
                f"Not enough free disk space for {filename}: it needs {format_size(remaining)} "
                f"more, but {self.cache_dir} has {format_size(free)} free. Free some space (or set "
                "HF_HOME to a larger disk) and try again."
            )

    def _resolve_token(self) -> str | None:
        """The token given, else huggingface_hub's (HF_TOKEN, then the stored one); False: none."""
        from huggingface_hub import get_token

        if self._token is False:
            return None
        return self._token or get_token()


def choose_file(files: dict[str, int], choice: str | None = None) -> str:
    """The file to download for ``choice``: a file name, a quant like Q4_K_M, or None for a default.

    Shards count as one model, named by shard 1; projector (mmproj) files are not models. The
    default is Q4_K_M, else the smallest model at Q4 quality or above, else the largest one.
    """
    models: dict[str, int] = {}
    for name, size in files.items():
        base = name.rsplit("/", 1)[-1].lower()
        if (
            base.endswith(".gguf")
            and not base.startswith("mmproj")
            and download_store.is_safe_filename(name)
        ):  # never default to a hostile name
            first = split_names(name)[0]
            models[first] = models.get(first, 0) + size
    if choice and choice.lower().endswith(".gguf"):
        if check_filename(choice) not in files:
            raise DownloadError(f"This repo has no file called '{choice}'.")
        return split_names(choice)[0]
    if not models:
        raise DownloadError("This repo has no GGUF model files.")
    wanted = (choice or "Q4_K_M").upper()
    matching = sorted(name for name in models if quant_types.quant_from_name(name) == wanted)
    if len(matching) > 1:
        raise DownloadError(
            f"Several {wanted} files: {', '.join(matching)}. Name the file you want."
        )
    if matching:
        return matching[0]
    if choice:
        found = sorted({q for q in map(quant_types.quant_from_name, models) if q})
        raise DownloadError(
            f"No {wanted} file in this repo. Its quants: {', '.join(found) or 'none'}."
        )
    good = [
        n
        for n in models
        if (quant_types.bits_per_weight(quant_types.quant_from_name(n)) or 0) >= 4.5
    ]
    return min(good, key=models.__getitem__) if good else max(models, key=models.__getitem__)
