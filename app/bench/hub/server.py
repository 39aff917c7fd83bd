"""A small Hugging Face Hub on 127.0.0.1 for ``hearth bench download``: it ships with Hearth, so
the benchmark runs from an installed copy too (no test suite needed).

    with BenchHub() as hub:
        hub.add_repo("org/Model-GGUF", {"Model-Q8_0.gguf": path}, downloads=10)
        Downloader(endpoint=hub.url, token=False).download("org/Model-GGUF", "Model-Q8_0.gguf")

It answers what the real ``huggingface_hub`` client asks for a search and a download, in the
Hub's shapes: ``GET /api/models`` (``search``, ``author``, ``sort``, ``limit``, pages linked by
``Link: rel="next"``), ``GET /api/models/{id}[/revision/{rev}]`` (``blobs=true``: sizes, LFS
sha256), ``HEAD``/``GET /{id}/resolve/{rev}/{file}`` (``X-Repo-Commit``, ``X-Linked-Etag``,
``X-Linked-Size``, ``Range`` -> 206) and ``/api/agent-harnesses``. Files are served by the Hub
origin itself (no CDN redirect). The test suite's fuller Hub (faults, gated repos, a CDN origin,
``tests/support``) shares :func:`parse_range` with it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

CHUNK = 1 << 20
LFS_SUFFIXES = (".gguf", ".bin", ".safetensors")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
UNSATISFIABLE = "unsatisfiable"
_SORTS = {"downloads", "likes", "trendingScore", "lastModified", "createdAt"}


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """A ``Range`` header as ``(start, end)`` inclusive, ``UNSATISFIABLE``, or None (no Range,
    or one that is ignored, as servers do with forms they do not support)."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":
        if int(match[2]) == 0:
            return UNSATISFIABLE
        start, end = max(0, size - int(match[2])), size - 1
    else:
        start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
    return (start, end) if start < size and start <= end else UNSATISFIABLE


@dataclass(frozen=True)
class BenchFile:
    name: str
    source: Path | bytes
    size: int
    sha256: str
    blob_id: str  # the git blob id (sha1 of "blob <size>\0" + content)

    @classmethod
    def of(cls, name: str, source: Path | bytes) -> BenchFile:
        """Size, sha256 and git blob id, in one pass over the bytes (done once, when added)."""
        size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
        sha256 = hashlib.sha256()
        blob = hashlib.sha1(f"blob {size}\0".encode())  # noqa: S324 - git's id, not security
        for chunk in [source] if isinstance(source, bytes) else _read(Path(source)):
            sha256.update(chunk)
            blob.update(chunk)
        return cls(name, source, size, sha256.hexdigest(), blob.hexdigest())

    @property
    def lfs(self) -> bool:
        return self.name.lower().endswith(LFS_SUFFIXES) or self.size > 10 * CHUNK

    def sibling(self, blobs: bool) -> dict:
        entry: dict = {"rfilename": self.name}
        if blobs:
            entry |= {"size": self.size, "blobId": self.blob_id}
            if self.lfs:
                entry["lfs"] = {"sha256": self.sha256, "size": self.size, "pointerSize": 134}
        return entry

    def chunks(self, start: int, end: int):
        """The bytes ``start..end`` (inclusive), a chunk at a time."""
        if isinstance(self.source, bytes):
            yield self.source[start : end + 1]
            return
        with open(self.source, "rb") as handle:
            handle.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := handle.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk


def _read(path: Path):
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


@dataclass
class BenchRepo:
    repo_id: str
    files: dict[str, BenchFile]
    commit: str
    meta: dict = field(default_factory=dict)

    def item(self, blobs: bool = False) -> dict:
        """The repo as the Hub describes it (a listing item, or model_info with siblings)."""
        return {
            "_id": self.commit[:24],
            "id": self.repo_id,
            "modelId": self.repo_id,
            "author": self.repo_id.split("/")[0],
            "sha": self.commit,
            "private": False,
            "gated": False,
            "disabled": False,
            "pipeline_tag": "text-generation",
            "library_name": "gguf",
            **self.meta,
            "siblings": [f.sibling(blobs) for f in self.files.values()],
        }


class BenchHub:
    """The server: ``start()``/``stop()`` or ``with``; ``url`` once started."""

    def __init__(self, page_size: int = 100) -> None:
        self.page_size = page_size
        self._repos: dict[str, BenchRepo] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, Path | bytes],
        *,
        downloads: int = 0,
        likes: int = 0,
        gguf: dict | None = None,
        tags: tuple[str, ...] = ("gguf",),
        when: datetime | None = None,
    ) -> BenchRepo:
        entries = {name: BenchFile.of(name, source) for name, source in files.items()}
        commit = hashlib.sha1(
            json.dumps(  # noqa: S324 - an id, not a security check
                [repo_id, sorted((f.name, f.sha256) for f in entries.values())]
            ).encode()
        ).hexdigest()
        date = (when or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        repo = BenchRepo(
            repo_id,
            entries,
            commit,
            {
                "downloads": downloads,
                "likes": likes,
                "trendingScore": 0,
                "tags": list(tags),
                "lastModified": date,
                "createdAt": date,
                "gguf": gguf or {},
            },
        )
        with self._lock:
            self._repos[repo_id] = repo
        return repo

    def repo(self, repo_id: str) -> BenchRepo | None:
        with self._lock:
            return self._repos.get(repo_id)

    def repos(self) -> list[BenchRepo]:
        with self._lock:
            return list(self._repos.values())

    def start(self) -> BenchHub:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads, server.block_on_close = True, False
        server.hub = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="bench-hub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> BenchHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("BenchHub is not running: call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 60

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet, like the Hub
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._route(head=True)

    def _route(self, head: bool) -> None:
        hub: BenchHub = self.server.hub  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if segments == ["api", "models"]:
            return self._list(hub, query, parts.path)
        if segments == ["api", "agent-harnesses"]:
            return self._json(200, {"standardEnvVars": [], "harnesses": {}}, head=head)
        if segments[:2] == ["api", "models"] and len(segments) in (4, 6):
            repo = hub.repo("/".join(segments[2:4]))
            if repo is None:
                return self._error(404, "RepoNotFound", "Repository not found")
            return self._json(200, repo.item(blobs=query.get("blobs") == ["true"]), head=head)
        if len(segments) >= 5 and segments[2] == "resolve":
            return self._resolve(hub, "/".join(segments[:2]), "/".join(segments[4:]), head)
        return self._error(404, None, "Sorry, we can't find the page you are looking for.")

    def _list(self, hub: BenchHub, query: dict, path: str) -> None:
        first = {key: values[0] for key, values in query.items()}
        search, author = first.get("search", "").lower(), first.get("author", "")
        sort = first.get("sort", "")
        if sort and sort not in _SORTS:
            return self._error(400, None, f"Invalid sort parameter: {sort!r}")
        repos = [
            r
            for r in hub.repos()
            if search in r.repo_id.lower() and (not author or r.repo_id.split("/")[0] == author)
        ]
        if sort:
            repos.sort(key=lambda r: r.meta.get(sort) or 0, reverse=True)
        limit = max(1, int(first.get("limit") or hub.page_size))
        start = int(first.get("cursor") or 0)
        page = [r.item() for r in repos[start : start + limit]]
        headers = {}
        if start + limit < len(repos):
            pairs = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
            link = f"{hub.url}{path}?{urlencode(pairs + [('cursor', start + limit)])}"
            headers["Link"] = f'<{link}>; rel="next"'
        self._json(200, page, headers)

    def _resolve(self, hub: BenchHub, repo_id: str, name: str, head: bool) -> None:
        repo = hub.repo(repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        entry = repo.files.get(name)
        if entry is None:
            return self._error(404, "EntryNotFound", f"{name} does not exist")
        etag = entry.sha256 if entry.lfs else entry.blob_id
        headers = {
            "X-Repo-Commit": repo.commit,
            "ETag": f'"{etag}"',
            "Accept-Ranges": "bytes",
            "X-Linked-Etag": f'"{etag}"',
            "X-Linked-Size": str(entry.size),
        }
        span = parse_range(self.headers.get("Range"), entry.size)
        if span == UNSATISFIABLE:
            return self._send(416, b"", {"Content-Range": f"bytes */{entry.size}"}, head=head)
        start, end = span or (0, entry.size - 1)
        status = 206 if span else 200
        if span:
            headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
        self.send_response(status)
        for key, value in {
            **headers,
            "Content-Type": "application/octet-stream",
            "Content-Length": str(max(0, end - start + 1)),
        }.items():
            self.send_header(key, value)
        self.end_headers()
        if not head and entry.size:
            try:
                for chunk in entry.chunks(start, end):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def _json(self, status: int, payload, headers: dict | None = None, head: bool = False) -> None:
        self._send(
            status,
            json.dumps(payload).encode(),
            headers or {},
            head=head,
            content_type="application/json; charset=utf-8",
        )

    def _error(self, status: int, code: str | None, message: str) -> None:
        self._json(status, {"error": message}, {"X-Error-Code": code} if code else {})

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict,
        *,
        head: bool = False,
        content_type: str = "application/octet-stream",
    ) -> None:
        self.send_response(status)
        for key, value in {
            **headers,
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
        }.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)
