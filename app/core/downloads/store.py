"""Where downloads live on disk: partial files that survive a crash, and the Hugging Face cache.

A file being downloaded is written to ``<hub cache>/models--org--name/blobs/<etag>.part`` beside a
small JSON sidecar ``<etag>.part.json`` (repo, file, commit, ETag, size, sha256; never a token).
Both survive failures, closing the app and SIGKILL; the next attempt resumes from the part
file's size. A finished file becomes ``blobs/<etag>`` with a relative symlink
``snapshots/<commit>/<filename>`` and ``refs/<revision>``: the layout ``hf_hub_download`` writes,
so ``scan_cache_dir`` and ``hf_hub_download(..., local_files_only=True)`` find it.

File names come from the Hub and are never trusted as paths: :func:`check_filename` refuses any
that could leave the repo's snapshot folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from app.core.common.errors import DownloadError, UnsafeFileName
from app.core.common.json_file import Damaged, read_json, read_limited, write_atomic, write_json
from app.core.compat.hf_hub import repo_folder_name

log = logging.getLogger("hearth.downloads")

SIDECAR_VERSION = 1
MAX_NAME_LENGTH = 255  # one path component, as most file systems allow
MAX_PATH_LENGTH = 1024
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # ETags and commit shas used as names
_COMMIT = re.compile(r"[0-9a-f]{40}")


def check_filename(name: str) -> str:
    """Return ``name`` if it is a safe relative file name in a repo; raise UnsafeFileName if not."""
    shown = repr(name[:80])
    problem = None
    if not name or not name.strip():
        problem = "it is empty"
    elif "\x00" in name or any(ord(c) < 32 for c in name):
        problem = "it contains control characters"
    elif "\\" in name:
        problem = "it contains a backslash"
    elif name.startswith("/") or re.match(r"[A-Za-z]:", name):
        problem = "it is an absolute path"
    elif any(part in ("", ".", "..") for part in name.split("/")):
        problem = "it points outside the model's folder"
    elif len(name) > MAX_PATH_LENGTH or any(
        len(p.encode()) > MAX_NAME_LENGTH for p in name.split("/")
    ):
        problem = "it is too long"
    if problem:
        raise UnsafeFileName(
            f"Hearth refused the file name {shown}: {problem}. Nothing was downloaded."
        )
    return name


def is_safe_filename(name: str) -> bool:
    """Whether :func:`check_filename` accepts ``name`` (for lists: an unsafe name is left out,
    never shown nor offered as a download)."""
    try:
        check_filename(name)
    except UnsafeFileName:
        return False
    return True


def _check_token(value: str, what: str) -> str:
    if not _SAFE_TOKEN.fullmatch(value or ""):
        raise DownloadError(
            f"The Hub sent an unusable {what} ({value[:60]!r}); the download was stopped."
        )
    return value


@dataclass
class Sidecar:
    """What a partial file holds. Saved as JSON next to it; has no secrets."""

    repo_id: str
    filename: str
    model_file: str  # the file the user asked for (shard 1 of a split model)
    revision: str
    commit: str
    etag: str
    size: int
    sha256: str | None
    blob_id: str | None
    url: str
    version: int = SIDECAR_VERSION


@dataclass(frozen=True)
class UnfinishedDownload:
    """A download that stopped before the end, as :func:`list_unfinished` reports it."""

    repo_id: str
    filename: str  # what to pass to ``Downloader.download`` to resume (shard 1 for split models)
    revision: str
    done_bytes: int
    total_bytes: int


class RepoStore:
    """One repo's folder in the Hugging Face hub cache."""

    def __init__(self, cache_dir: Path, repo_id: str) -> None:
        self.cache_dir = Path(cache_dir)
        self.repo_id = repo_id
        self.folder_name = repo_folder_name(repo_id)
        self.root = self.cache_dir / self.folder_name

    def blob(self, etag: str) -> Path:
        return self.root / "blobs" / _check_token(etag, "file tag (ETag)")

    def part(self, etag: str) -> Path:
        return self.blob(etag).with_name(f"{etag}.part")

    def sidecar_path(self, etag: str) -> Path:
        return self.blob(etag).with_name(f"{etag}.part.json")

    def lock_path(self, etag: str) -> Path:
        """The lock file ``hf_hub_download`` takes for the same blob, so the two never collide."""
        name = _check_token(etag, "file tag (ETag)")
        return self.cache_dir / ".locks" / self.folder_name / f"{name}.lock"

    def pointer(self, commit: str, filename: str) -> Path:
        """``snapshots/<commit>/<filename>``, refused if it would land outside that folder."""
        if not _COMMIT.fullmatch(commit or ""):
            raise DownloadError(
                f"The Hub sent an unusable commit id ({commit[:60]!r}); the download was stopped."
            )
        snapshot = self.root / "snapshots" / commit
        target = snapshot.joinpath(*check_filename(filename).split("/"))
        if Path(os.path.abspath(snapshot)) not in Path(os.path.abspath(target)).parents:
            raise UnsafeFileName(
                f"Hearth refused the file name {filename[:80]!r}: it leaves the model's folder."
            )
        return target

    def cached(self, commit: str, filename: str) -> Path | None:
        """The finished file of this commit, if it is in the cache."""
        pointer = self.pointer(commit, filename)
        return pointer if pointer.is_file() else None

    def find_sidecar(self, etag: str) -> Sidecar | None:
        """The sidecar of ``etag``'s part file; None when there is none or it is damaged (then
        it is kept aside and the part file starts again: its bytes cannot be vouched for)."""
        return read_sidecar(self.sidecar_path(etag))

    def start_partial(self, sidecar: Sidecar) -> int:
        """Prepare the part file for ``sidecar``'s file; return the bytes there to resume from.

        An existing part file is kept only if its sidecar names the same content (ETag, size and
        hash); otherwise it is emptied, so two versions of a file are never spliced.
        """
        part = self.part(sidecar.etag)
        part.parent.mkdir(parents=True, exist_ok=True)
        for other in part.parent.glob("*.part.json"):  # an older version of the same file
            old = self.find_sidecar(other.name[: -len(".part.json")])
            if old and old.filename == sidecar.filename and old.etag != sidecar.etag:
                log.info(
                    "%s changed on the Hub; its partial download starts again", sidecar.filename
                )
                self.discard(old.etag)
        (self.root / "snapshots").mkdir(parents=True, exist_ok=True)  # keeps scan_cache_dir happy
        old = self.find_sidecar(sidecar.etag)
        same = old is not None and (old.etag, old.size, old.sha256, old.blob_id) == (
            sidecar.etag,
            sidecar.size,
            sidecar.sha256,
            sidecar.blob_id,
        )
        done = part.stat().st_size if same and part.exists() else 0
        if done > sidecar.size:
            done = 0
        if done == 0:
            part.write_bytes(b"")
        self._write_sidecar(sidecar)
        return done

    def _write_sidecar(self, sidecar: Sidecar) -> None:
        write_json(self.sidecar_path(sidecar.etag), asdict(sidecar), indent=1)

    def discard(self, etag: str) -> None:
        """Delete a partial file and its sidecar."""
        for path in (self.part(etag), self.sidecar_path(etag)):
            path.unlink(missing_ok=True)

    def place(self, etag: str, commit: str, filename: str, revision: str) -> Path:
        """Turn a complete, verified part file into a cache entry; return the snapshot path."""
        blob, pointer = self.blob(etag), self.pointer(commit, filename)
        os.replace(self.part(etag), blob)
        self.sidecar_path(etag).unlink(missing_ok=True)
        self.link(etag, commit, filename)
        self.write_ref(revision, commit)
        return pointer

    def link(self, etag: str, commit: str, filename: str) -> Path:
        """Point ``snapshots/<commit>/<filename>`` at ``blobs/<etag>`` (a relative symlink, or a
        copy where symlinks are not allowed)."""
        blob, pointer = self.blob(etag), self.pointer(commit, filename)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            pointer.unlink()
        try:
            os.symlink(os.path.relpath(blob, pointer.parent), pointer)
        except OSError:  # no symlinks here (Windows without developer mode): keep a copy
            shutil.copyfile(blob, pointer)
        return pointer

    def write_ref(self, revision: str, commit: str) -> None:
        """Record the commit a branch or tag names (``refs/main``), as huggingface_hub does."""
        if revision == commit or not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", revision):
            return
        ref = self.root / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        try:
            current = read_limited(ref, 1024)
        except (OSError, ValueError):  # a folder or a special file where the ref belongs
            current = None
        if current != commit.encode():
            write_atomic(ref, commit.encode())


def _parse_sidecar(raw: object, notes: list[str]) -> Sidecar | None:
    """A sidecar written by this version, every field of its type; another version's gives
    None (it starts again), anything else is damaged."""
    if not isinstance(raw, dict):
        raise Damaged("it is not a JSON object")
    if raw.get("version") != SIDECAR_VERSION:
        return None
    for name, kind in _SIDECAR_KINDS.items():
        if not isinstance(raw.get(name), kind) or isinstance(raw.get(name), bool):
            raise Damaged(f"its {name} is missing or of the wrong type")
    if set(raw) - set(_SIDECAR_KINDS):
        raise Damaged("it has fields Hearth does not know")
    return Sidecar(**raw)


_SIDECAR_KINDS: dict[str, type | tuple[type, ...]] = {
    "repo_id": str,
    "filename": str,
    "model_file": str,
    "revision": str,
    "commit": str,
    "etag": str,
    "size": int,
    "sha256": (str, type(None)),
    "blob_id": (str, type(None)),
    "url": str,
    "version": int,
}


def read_sidecar(path: Path) -> Sidecar | None:
    loaded = read_json(path, "A download record", _parse_sidecar, lambda: None, max_bytes=64 * 1024)
    if loaded.message:  # the download starts that file again; nothing for the user to do
        log.warning("%s", loaded.message)
    return loaded.value


def list_unfinished(cache_dir: Path) -> list[UnfinishedDownload]:
    """Downloads that stopped before the end (failure, pause, app closed or killed), per model."""
    found: dict[tuple[str, str], UnfinishedDownload] = {}
    for path in sorted(Path(cache_dir).glob("models--*/blobs/*.part.json")):
        sidecar = read_sidecar(path)
        if sidecar is None:
            continue
        part = path.with_name(path.name[: -len(".json")])
        try:
            done = part.stat().st_size if part.exists() else 0
        except OSError:
            continue
        key = (sidecar.repo_id, sidecar.model_file)
        previous = found.get(key)
        found[key] = UnfinishedDownload(
            repo_id=sidecar.repo_id,
            filename=sidecar.model_file,
            revision=sidecar.revision,
            done_bytes=done + (previous.done_bytes if previous else 0),
            total_bytes=sidecar.size + (previous.total_bytes if previous else 0),
        )
    return list(found.values())


def free_bytes(folder: Path) -> int:
    """Free space where ``folder`` is (or would be created)."""
    for candidate in (Path(folder), *Path(folder).parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(Path.cwd()).free


def remove_from_cache(pointers: list[Path]) -> int:
    """Delete snapshot files of the HF cache and the blobs no other snapshot uses; return the
    bytes freed.

    Emptied snapshot folders go, with the refs naming them (``scan_cache_dir`` calls a ref to a
    missing snapshot corrupt); a repo folder left with no snapshot file goes entirely.
    """
    freed, roots = 0, set()
    for pointer in pointers:
        snapshots = _snapshot_of(pointer).parent
        roots.add(snapshots.parent)
        blob = _target(pointer)
        # Only this repo's own blobs go: a link pointing elsewhere loses the link alone.
        ours = blob == pointer or blob.parent == Path(os.path.abspath(snapshots.parent / "blobs"))
        size = _regular_size(blob) if ours else 0
        pointer.unlink(missing_ok=True)
        shared = any(_target(p) == blob for p in snapshots.rglob("*") if p.is_symlink())
        if ours and blob != pointer and not shared and blob.is_file() and not blob.is_symlink():
            blob.unlink()
        freed += 0 if shared else size
        _prune(pointer.parent, stop_at=snapshots)
    for root in roots:
        snapshots = root / "snapshots"
        for ref in [r for r in (root / "refs").rglob("*") if r.is_file()]:
            if not (snapshots / ref.read_text().strip()).is_dir():
                ref.unlink()
        in_use = any(p.is_file() for p in snapshots.rglob("*")) or any(root.glob("blobs/*.part"))
        if not in_use:
            shutil.rmtree(root, ignore_errors=True)
    return freed


def _regular_size(path: Path) -> int:
    """The size of a regular file (not following a last symlink); 0 for anything else."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def _target(path: Path) -> Path:
    return Path(os.path.abspath(path.parent / os.readlink(path))) if path.is_symlink() else path


def _snapshot_of(pointer: Path) -> Path:
    """The ``snapshots/<commit>`` folder above a snapshot file."""
    for parent in pointer.parents:
        if parent.parent.name == "snapshots":
            return parent
    raise DownloadError(f"{pointer} is not in a Hugging Face cache snapshot.")


def _prune(folder: Path, stop_at: Path) -> None:
    while folder != stop_at and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
