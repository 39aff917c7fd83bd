"""A Hugging Face Hub on 127.0.0.1 that the real ``huggingface_hub`` client talks to: the Hub
``hearth bench download`` serves (it ships with Hearth, so the benchmark runs from an installed
copy), and the one the test suite runs every Hub and download test against.

    with BenchHub() as hub:
        hub.add_repo("org/Model-GGUF", {"Model-Q4_K_M.gguf": path, "README.md": b"# Model"})
        HfApi(endpoint=hub.url).model_info("org/Model-GGUF", files_metadata=True)
        Downloader(endpoint=hub.url, token=False).download("org/Model-GGUF", "Model-Q4_K_M.gguf")

It listens on two origins, as huggingface.co does:

* the Hub (``hub.url``): ``/api/models`` (search, filters, sort, ``Link`` pagination),
  ``/api/models/{id}[/revision/{rev}]``, ``/tree``, ``/paths-info`` and
  ``/{id}/resolve/{rev}/{file}``, with the ``X-Error-Code`` headers the client turns into typed
  errors (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``);
* the CDN (``hub.cdn_url``): ``/resolve`` answers an LFS file with a 302 to it, carrying
  ``X-Repo-Commit``, ``X-Linked-Etag`` (the sha256) and ``X-Linked-Size``. The client does not
  follow a redirect to another origin on its HEAD, and drops ``Authorization`` on the GET that
  follows it. The CDN honours ``Range`` (206 + ``Content-Range``). Small files are served by the
  Hub directly.

Gated repos answer ``/resolve`` with 401 (no token) or 403 (a token not in ``hub.valid_tokens``);
``/api/whoami-v2`` describes the account of a valid token (``hub.token_users``) and answers 401
otherwise. ``hub.requests`` records what the client sent (header names lower-cased);
``hub.server_errors`` collects tracebacks of bugs in this server (the tests fail on them).
A subclass may answer requests otherwise (``intercept``) or send file bodies otherwise
(``body_plan``): the test suite's ``tests.support.hub_server.LoopbackHub`` injects faults so.

The parts: ``repos`` (repo model and JSON shapes), ``routes`` (routes and responses).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import traceback
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlencode

from app.bench.hub.repos import Commit, HubFile, HubRepo, commit_sha, iso_now, parse_front_matter
from app.bench.hub.routes import HubHandler, expected_error


class RecordedRequest(NamedTuple):
    """A request as the server received it: ``path`` is the raw target, query included."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    """A whole answer sent instead of the one the routes would give."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BodyPlan:
    """How one file body is sent: whole, as fast as the link goes, unaltered, unless it says
    otherwise."""

    cut_after: int | None = None  # bytes of body sent before the connection is cut
    bytes_per_second: int = 0  # 0: no throttle
    flip_at: int = -1  # the file offset whose byte is sent inverted (-1: none)


PLAIN_BODY = BodyPlan()


class OriginServer(ThreadingHTTPServer):
    """One origin. Tracks open connections so ``stop()`` can cut keep-alive ones and join threads."""

    block_on_close = False  # connection threads are tracked and joined here, with a time limit

    def __init__(self, hub: BenchHub, role: str) -> None:
        self.hub, self.role = hub, role
        self._open: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), HubHandler)

    # A TCP server: each request is a socket (socketserver types it for UDP servers too).
    def process_request(  # type: ignore[override]
        self, request: socket.socket, client_address: tuple[str, int]
    ) -> None:
        """Serve each connection on its own (daemon) thread, remembered for ``join_workers``."""
        worker = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"loopback-{self.role}-connection",
            daemon=True,
        )
        with self._open_lock:
            self._open.add(request)
            self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()

    def join_workers(self, timeout: float) -> None:
        with self._open_lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)
            if worker.is_alive():
                self.hub.server_errors.append(
                    f"{worker.name} still running {timeout} s after stop()"
                )

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(  # type: ignore[override]
        self, request: socket.socket, client_address: tuple[str, int]
    ) -> None:
        """Record unexpected exceptions (a client hanging up, or ``stop()`` cutting it off, is expected)."""
        if not expected_error(sys.exc_info()[1], self.hub):
            self.hub.server_errors.append(traceback.format_exc())


class BenchHub:
    """A Hub-compatible HTTP server (API + resolve) and its CDN, on free ports of 127.0.0.1."""

    def __init__(
        self, *, page_size: int = 100, max_page_size: int = 1000, tree_page_size: int = 1000
    ) -> None:
        self.page_size = page_size  # /api/models page size when the client sends no limit
        self.max_page_size = max_page_size
        self.tree_page_size = tree_page_size  # /tree page size (the Hub uses 50 when expand=true)
        self.valid_tokens: set[str] = set()
        self.token_users: dict[str, str] = {}  # token -> account name /api/whoami-v2 answers
        self.token_names: dict[str, str] = {}  # token -> the token's own name (displayName)
        self.requests: list[RecordedRequest] = []
        self.server_errors: list[str] = []
        self._repos: dict[str, HubRepo] = {}
        self._lock = threading.Lock()
        self._serial = 0
        self.stopping = threading.Event()
        self._servers: list[OriginServer] = []
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> BenchHub:
        if self._servers:
            raise RuntimeError("The Hub is already running")
        self.stopping.clear()
        for role in ("hub", "cdn"):
            server = OriginServer(self, role)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"loopback-{role}",
                daemon=True,
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop both origins, cut open connections and join every server thread."""
        self.stopping.set()
        for server in self._servers:
            server.shutdown()
        for server in self._servers:
            server.close_open_connections()
            server.server_close()
            server.join_workers(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> BenchHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._origin(0)

    @property
    def cdn_url(self) -> str:
        return self._origin(1)

    def _origin(self, index: int) -> str:
        if not self._servers:
            raise RuntimeError("The Hub is not running: call start() first")
        return f"http://127.0.0.1:{self._servers[index].server_address[1]}"

    # -- repositories ----------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, Path | bytes],
        *,
        card: str = "",
        card_data: dict | None = None,
        gated: bool | str = False,
        private: bool = False,
        downloads: int = 0,
        likes: int = 0,
        trending_score: int = 0,
        last_modified: str | None = None,
        created_at: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        pipeline_tag: str | None = "text-generation",
        library_name: str | None = None,
        gguf: dict | None = None,
        author: str | None = None,
    ) -> HubRepo:
        """Publish a model repo with one commit. ``card`` becomes README.md (and ``cardData`` from
        its front matter unless ``card_data`` is given); ``gated=True`` means ``"auto"`` approval."""
        if not 1 <= len(repo_id.split("/")) <= 2 or ".." in repo_id.split("/"):
            raise ValueError(f"not a repo id: {repo_id!r}")
        entries = {name: HubFile(name, source) for name, source in files.items()}
        if card and "README.md" not in entries:
            entries["README.md"] = HubFile("README.md", card.encode())
        readme = files.get("README.md")
        card_text = card or (readme.decode(errors="replace") if isinstance(readme, bytes) else "")
        created = created_at or iso_now()
        repo = HubRepo(
            repo_id=repo_id,
            commits=[],
            card_data=card_data if card_data is not None else parse_front_matter(card_text),
            gated="auto" if gated is True else gated,
            private=private,
            downloads=downloads,
            likes=likes,
            trending_score=trending_score,
            last_modified=last_modified or created,
            created_at=created,
            tags=list(tags),
            pipeline_tag=pipeline_tag,
            library_name=library_name,
            gguf=gguf,
            author=author
            if author is not None
            else (repo_id.split("/")[0] if "/" in repo_id else None),
        )
        with self._lock:
            repo.commits.append(self._new_commit(repo_id, entries, "Initial commit"))
            self._repos[repo_id] = repo
        return repo

    def replace_file(self, repo_id: str, filename: str, new_content: Path | bytes) -> str:
        """Commit a new version of ``filename`` (new sha256, ETag and commit); returns the new
        commit sha."""
        with self._lock:
            repo = self._repos[repo_id]
            entries = dict(repo.head.files)
            entries[filename] = HubFile(filename, new_content)
            commit = self._new_commit(repo_id, entries, f"Update {filename}")
            repo.commits.append(commit)
            repo.last_modified = commit.date
        return commit.sha

    def _new_commit(self, repo_id: str, entries: dict[str, HubFile], title: str) -> Commit:
        self._serial += 1
        return Commit(
            sha=commit_sha(repo_id, entries, self._serial),
            files=entries,
            date=iso_now(),
            title=title,
        )

    def repo(self, repo_id: str) -> HubRepo | None:
        with self._lock:
            return self._repos.get(repo_id)

    def all_repos(self) -> list[HubRepo]:
        with self._lock:
            return list(self._repos.values())

    # -- what the routes ask -----------------------------------------------------------------------

    def intercept(self, method: str, target: str) -> Answer | None:
        """An answer to send instead of the routes' one for this request (decoded ``target``,
        query included); None here: every request is answered as the Hub would."""
        return None

    def body_plan(self, target: str, repo_id: str, entry: HubFile) -> BodyPlan:
        """How to send ``entry``'s body for this GET; here, whole and unaltered."""
        return PLAIN_BODY

    def requests_matching(self, substring: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose decoded path contains ``substring``."""
        with self._lock:
            recorded = list(self.requests)
        return [
            r
            for r in recorded
            if substring in unquote(r.path) and (method is None or r.method == method)
        ]

    def record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers))

    def cdn_location(self, repo_id: str, commit: Commit, entry: HubFile) -> str:
        sha = entry.sha256
        query = urlencode({"repo": repo_id, "commit": commit.sha, "file": entry.name})
        return f"{self.cdn_url}/repos/{sha[:2]}/{sha[2:4]}/{sha}?{query}"
