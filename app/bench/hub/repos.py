"""The repositories :class:`app.bench.hub.BenchHub` serves, and the JSON the Hub answers with.

This emulates what huggingface.co stores for a model repository and how its API describes it:

* :class:`HubFile` - one file of one commit. Large or binary files (``*.gguf``, ``*.safetensors``,
  anything over 10 MB) are Git LFS files: the Hub advertises their sha256, size and the size of
  the LFS pointer, and serves them from a CDN. Small text files are plain git blobs, identified by
  their git blob id (sha1 of ``b"blob <size>\\0" + content``). Digests are computed lazily, once.
* :class:`Commit` - an immutable snapshot: a 40-hex sha and the files it holds.
* :class:`HubRepo` - metadata (downloads, likes, tags, gated, ``gguf``...) and a list of commits;
  ``main`` is the newest. Older commit shas stay resolvable, as on the real Hub.

The JSON shapes follow the real Hub (checked against huggingface_hub 2.4's parsers):
``/api/models`` items carry only a default set of keys unless ``full=true`` or ``expand=...``
asks for more; ``/api/models/{id}`` carries siblings, ``sha``, ``cardData`` and, with
``blobs=true``, sizes and LFS info; tree entries carry ``oid`` and ``lfs.oid``.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

LFS_SUFFIXES = (
    ".gguf",
    ".bin",
    ".safetensors",
    ".pt",
    ".pth",
    ".onnx",
    ".msgpack",
    ".h5",
    ".npz",
    ".zip",
)
LFS_MIN_SIZE = 10 * 1024 * 1024
_CHUNK = 1024 * 1024

# Expand properties the client may request (huggingface_hub's ExpandModelProperty_T); unknown ones get a 400.
EXPAND_PROPERTIES = frozenset(
    "author baseModels cardData childrenModelCount config createdAt disabled downloads downloadsAllTime "
    "evalResults gated gguf inference inferenceProviderMapping lastModified library_name likes mask_token "
    "model-index pipeline_tag private resourceGroup safetensors sha siblings spaces tags transformersInfo "
    "trendingScore usedStorage widgetData".split()
)
# Keys of a /api/models item without full/expand, as huggingface.co answers.
LIST_DEFAULT_KEYS = "_id id modelId likes trendingScore private downloads tags pipeline_tag library_name createdAt".split()
# ...and with full=true (cardData only with cardData=true).
LIST_FULL_KEYS = LIST_DEFAULT_KEYS + "author sha lastModified gated disabled siblings gguf".split()
# Keys of /api/models/{id} without expand.
INFO_KEYS = LIST_FULL_KEYS + "cardData spaces usedStorage".split()
SORT_KEYS = {
    "downloads": "downloads",
    "likes": "likes",
    "trendingScore": "trending_score",
    "lastModified": "last_modified",
    "createdAt": "created_at",
}

# sha256 of files on disk, keyed by identity, shared by every hub in the process: tests that serve the
# same 100 MB file from several hubs hash it once.
_DISK_SHA256: dict[tuple[str, int, int, int], str] = {}
_DISK_SHA256_LOCK = threading.Lock()


def iso_now() -> str:
    """The current UTC time in the Hub's format, e.g. ``2024-05-01T12:00:00.000Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def git_blob_id(data: bytes) -> str:
    """The git object id of a blob with this content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubFile:
    """One file in a commit. ``source`` is bytes (served from memory) or a Path (streamed from disk)."""

    def __init__(self, name: str, source: Path | bytes) -> None:
        self.name = name
        self._source = source
        self.size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
        self.is_lfs = name.lower().endswith(LFS_SUFFIXES) or self.size > LFS_MIN_SIZE
        self._lock = threading.Lock()
        self._sha256: str | None = None
        self._blob_id: str | None = None

    def open(self) -> BinaryIO:
        """A fresh binary reader of the content (the caller closes it)."""
        if isinstance(self._source, bytes):
            return io.BytesIO(self._source)
        return open(self._source, "rb")

    @property
    def sha256(self) -> str:
        with self._lock:
            if self._sha256 is None:
                self._sha256 = self._compute_sha256()
            return self._sha256

    def _compute_sha256(self) -> str:
        if isinstance(self._source, bytes):
            return hashlib.sha256(self._source).hexdigest()
        stat = Path(self._source).stat()
        key = (str(Path(self._source).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        with _DISK_SHA256_LOCK:
            cached = _DISK_SHA256.get(key)
        if cached is None:
            digest = hashlib.sha256()
            with self.open() as reader:
                while chunk := reader.read(_CHUNK):
                    digest.update(chunk)
            cached = digest.hexdigest()
            with _DISK_SHA256_LOCK:
                _DISK_SHA256[key] = cached
        return cached

    @property
    def lfs_pointer(self) -> bytes:
        """The Git LFS pointer file that git stores in place of an LFS file's content."""
        return (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n"
        ).encode()

    @property
    def blob_id(self) -> str:
        """The git blob id: of the pointer for LFS files, of the (small) content otherwise."""
        if self._blob_id is None:
            if self.is_lfs:
                self._blob_id = git_blob_id(self.lfs_pointer)
            else:
                with self.open() as reader:
                    self._blob_id = git_blob_id(reader.read())
        return self._blob_id

    def sibling(self, *, blobs: bool) -> dict:
        """An entry of ``siblings`` in model info (``blobs=true`` adds size, blobId and lfs)."""
        entry: dict = {"rfilename": self.name}
        if blobs:
            entry.update(size=self.size, blobId=self.blob_id)
            if self.is_lfs:
                entry["lfs"] = {
                    "sha256": self.sha256,
                    "size": self.size,
                    "pointerSize": len(self.lfs_pointer),
                }
        return entry

    def tree_entry(self) -> dict:
        """An entry of ``/tree`` and ``/paths-info``."""
        entry: dict = {"type": "file", "oid": self.blob_id, "size": self.size, "path": self.name}
        if self.is_lfs:
            entry["lfs"] = {
                "oid": self.sha256,
                "size": self.size,
                "pointerSize": len(self.lfs_pointer),
            }
        return entry


@dataclass(frozen=True)
class Commit:
    """An immutable snapshot of a repository."""

    sha: str
    files: dict[str, HubFile]
    date: str
    title: str = "Upload folder using huggingface_hub"

    def last_commit(self) -> dict:
        return {"id": self.sha, "title": self.title, "date": self.date}

    def directories(self) -> set[str]:
        return {name[:i] for name in self.files for i, ch in enumerate(name) if ch == "/"}

    def tree(self, folder: str, *, recursive: bool, expand: bool) -> list[dict] | None:
        """Entries under ``folder`` ("" for the root), or None when it is not a folder of this commit."""
        folder = folder.strip("/")
        dirs = self.directories()
        if folder and folder not in dirs:
            return None
        prefix = f"{folder}/" if folder else ""
        names = [n for n in list(self.files) + sorted(dirs) if n.startswith(prefix)]
        if not recursive:
            names = [n for n in names if "/" not in n[len(prefix) :]]
        infos = (self.path_info(name, expand=expand) for name in sorted(set(names)))
        return [info for info in infos if info is not None]

    def path_info(self, path: str, *, expand: bool = False) -> dict | None:
        path = path.strip("/")
        if path in self.files:
            entry = self.files[path].tree_entry()
            if expand:
                entry["securityFileStatus"] = {
                    "status": "safe",
                    "avScan": {"virusFound": False},
                    "pickleImportScan": None,
                }
        elif path in self.directories():
            entry = {
                "type": "directory",
                "oid": hashlib.sha1(f"{self.sha}:{path}".encode()).hexdigest(),
                "path": path,
            }
        else:
            return None
        if expand:
            entry["lastCommit"] = self.last_commit()
        return entry


@dataclass
class HubRepo:
    """A model repository: metadata and its commits (``commits[-1]`` is ``main``)."""

    repo_id: str
    commits: list[Commit]
    card_data: dict | None = None
    gated: str | bool = False
    private: bool = False
    downloads: int = 0
    likes: int = 0
    trending_score: int = 0
    last_modified: str = field(default_factory=iso_now)
    created_at: str = field(default_factory=iso_now)
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str | None = "text-generation"
    library_name: str | None = None
    gguf: dict | None = None
    author: str | None = None

    @property
    def head(self) -> Commit:
        return self.commits[-1]

    def commit(self, revision: str) -> Commit | None:
        """The commit a revision names: ``main`` or a full commit sha."""
        if revision == "main":
            return self.head
        return next((c for c in self.commits if c.sha == revision), None)

    @property
    def has_gguf(self) -> bool:
        return any(name.lower().endswith(".gguf") for name in self.head.files)

    def matches(self, *, search: str, author: str, filters: list[str], pipeline_tag: str) -> bool:
        """Whether this repo passes the ``/api/models`` query filters."""
        if search and search.lower() not in self.repo_id.lower():
            return False
        if author and (self.author or "").lower() != author.lower():
            return False
        if pipeline_tag and self.pipeline_tag != pipeline_tag:
            return False
        labels = {
            label.lower()
            for label in (*self.all_tags(), self.library_name, self.pipeline_tag)
            if label
        }
        return all(f.lower() in labels for f in filters)

    def all_tags(self) -> list[str]:
        """Tags as the Hub computes them: the given ones, plus ``gguf`` when the repo holds GGUF files."""
        tags = list(self.tags)
        if self.has_gguf and "gguf" not in tags:
            tags.insert(0, "gguf")
        return tags

    def properties(self, commit: Commit, *, blobs: bool) -> dict:
        """Every property the Hub can describe this repo with, at ``commit``; absent ones are left out."""
        props = {
            "_id": hashlib.sha1(self.repo_id.encode()).hexdigest()[:24],
            "id": self.repo_id,
            "modelId": self.repo_id,
            "author": self.author,
            "sha": commit.sha,
            "lastModified": self.last_modified,
            "createdAt": self.created_at,
            "private": self.private,
            "gated": self.gated,
            "disabled": False,
            "downloads": self.downloads,
            "downloadsAllTime": self.downloads,
            "likes": self.likes,
            "trendingScore": self.trending_score,
            "tags": self.all_tags(),
            "pipeline_tag": self.pipeline_tag,
            "library_name": self.library_name,
            "cardData": self.card_data,
            "gguf": self.gguf,
            "siblings": [f.sibling(blobs=blobs) for f in commit.files.values()],
            "spaces": [],
            "usedStorage": sum(f.size for f in commit.files.values()),
        }
        return {key: value for key, value in props.items() if value is not None}

    def to_json(
        self,
        keys: list[str] | tuple[str, ...],
        *,
        commit: Commit | None = None,
        blobs: bool = False,
    ) -> dict:
        props = self.properties(commit or self.head, blobs=blobs)
        return {key: props[key] for key in keys if key in props}


def parse_front_matter(card: str) -> dict | None:
    """The YAML front matter of a model card, for simple cards (scalars and lists of scalars).

    The real Hub parses full YAML; tests that need more pass ``card_data=`` to ``add_repo``.
    """
    lines = card.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    data: dict = {}
    key = None
    for line in lines[1:]:
        if line.strip() == "---":
            return data
        if line.startswith(("  - ", "- ")) and key is not None:
            data.setdefault(key, []).append(_scalar(line.split("- ", 1)[1]))
        elif ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            key = key.strip()
            if value.strip():
                data[key] = _scalar(value)
    return None


def _scalar(text: str) -> str | int | bool:
    text = text.strip().strip("'\"")
    if text.isdigit():
        return int(text)
    return {"true": True, "false": False}.get(text, text)


def commit_sha(repo_id: str, files: dict[str, HubFile], serial: int) -> str:
    """A 40-hex commit sha for the ``serial``-th snapshot of a repo (no content digest needed to name it)."""
    seed = f"{repo_id}\n{serial}\n" + "\n".join(f"{n}:{f.size}" for n, f in sorted(files.items()))
    return hashlib.sha1(seed.encode()).hexdigest()
