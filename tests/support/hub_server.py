"""A Hugging Face Hub on 127.0.0.1 that the real ``huggingface_hub`` client talks to, for tests.

    hub = LoopbackHub().start()           # or: with LoopbackHub() as hub: ...
    hub.add_repo("org/Model-GGUF", {"Model-Q4_K_M.gguf": path, "README.md": b"# Model"})
    HfApi(endpoint=hub.url).model_info("org/Model-GGUF", files_metadata=True)
    hf_hub_download("org/Model-GGUF", "Model-Q4_K_M.gguf", endpoint=hub.url, cache_dir=tmp_path)
    hub.stop()

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
``/api/whoami-v2`` describes the account of a valid token (``hub.token_users``) and answers 401 otherwise.
Faults (``fail``, ``drop_after``, ``slow``, ``corrupt``, ``replace_file``, ``serve_raw``) make the network
misbehave on cue; ``hub.requests`` records what the client sent (header names lower-cased);
``hub.server_errors`` collects tracebacks of bugs in this server (the fixture fails on them).

Repos in the naming styles of real GGUF repos: see ``tests.support.hub_repos.add_gguf_family``.
The parts: ``hub_repos`` (repo model and JSON shapes), ``hub_http`` (routes and responses),
``hub_faults`` (fault plans); ``hub_fixtures`` gives tests the ``loopback_hub`` fixture.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlencode

from tests.support.hub_faults import Fault, FaultPlan
from tests.support.hub_http import OriginServer
from tests.support.hub_repos import (
    Commit,
    HubFile,
    HubRepo,
    commit_sha,
    iso_now,
    parse_front_matter,
)


class RecordedRequest(NamedTuple):
    """A request as the server received it: ``path`` is the raw target, query included."""

    method: str
    path: str
    headers: dict[str, str]


class LoopbackHub:
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
        self.faults = FaultPlan()
        self._repos: dict[str, HubRepo] = {}
        self._corrupt: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._serial = 0
        self.stopping = threading.Event()
        self._servers: list[OriginServer] = []
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LoopbackHub:
        if self._servers:
            raise RuntimeError("LoopbackHub is already running")
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

    def __enter__(self) -> LoopbackHub:
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
            raise RuntimeError("LoopbackHub is not running: call start() first")
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
        """Publish a model repo with one commit. ``card`` becomes README.md (and ``cardData`` from its
        front matter unless ``card_data`` is given); ``gated=True`` means ``"auto"`` approval."""
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
        """Commit a new version of ``filename`` (new sha256, ETag and commit); returns the new commit sha."""
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

    # -- faults ----------------------------------------------------------------------------------

    def fail(
        self,
        path: str | re.Pattern[str],
        status: int = 500,
        count: int | None = 1,
        headers: dict[str, str] | None = None,
        *,
        method: str | None = None,
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``status`` (and ``headers``, e.g. Retry-After)."""
        return self.faults.add(
            Fault("fail", path, count, method, status=status, headers=dict(headers or {}))
        )

    def drop_after(self, path: str | re.Pattern[str], nbytes: int, count: int | None = 1) -> Fault:
        """Cut the connection after ``nbytes`` of body on the next ``count`` matching file GETs."""
        return self.faults.add(Fault("drop", path, count, "GET", nbytes=nbytes))

    def slow(
        self, path: str | re.Pattern[str], bytes_per_second: int, count: int | None = None
    ) -> Fault:
        """Throttle matching file bodies to ``bytes_per_second`` (every matching GET unless ``count``)."""
        if bytes_per_second < 1:
            raise ValueError("bytes_per_second must be positive")
        return self.faults.add(Fault("slow", path, count, "GET", bytes_per_second=bytes_per_second))

    def serve_raw(
        self,
        path: str | re.Pattern[str],
        body: bytes | str,
        status: int = 200,
        count: int | None = 1,
        headers: dict[str, str] | None = None,
        *,
        method: str | None = None,
        content_type: str = "application/json; charset=utf-8",
        skip: int = 0,
    ) -> Fault:
        """Answer the next ``count`` matching requests (after ``skip`` of them) with exactly
        ``body`` (malformed JSON, a listing with missing fields, a file list with hostile
        names, an HTML error page...) and ``status``."""
        raw = body.encode() if isinstance(body, str) else body
        return self.faults.add(
            Fault(
                "raw",
                path,
                count,
                method,
                status=status,
                headers=dict(headers or {}),
                body=raw,
                content_type=content_type,
                skip=skip,
            )
        )

    def corrupt(self, repo_id: str, filename: str) -> None:
        """Serve ``filename`` with its middle byte flipped: same size, advertised sha256 no longer matches."""
        self._corrupt.add((repo_id, filename))

    def is_corrupt(self, repo_id: str, filename: str) -> bool:
        return (repo_id, filename) in self._corrupt

    def clear_faults(self) -> None:
        self.faults.clear()
        self._corrupt.clear()

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
