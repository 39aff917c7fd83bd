"""The HTTP side of :class:`app.bench.hub.BenchHub`: the handler every origin serves with.

:class:`HubHandler` answers the Hub's routes (``/api/models``, ``/api/models/{id}[/revision|/tree|
/paths-info]``, ``/{id}/resolve/{rev}/{file}``, ``/api/agent-harnesses``, ``/api/whoami-v2``) or, on
the CDN origin, signed-URL downloads. Both speak HTTP/1.1 with keep-alive, as the client's connection
pool expects. File bodies are streamed in chunks from disk or memory and honour ``Range``. The hub is
asked on every request whether to answer it otherwise (``BenchHub.intercept``) and on every file body
how to send it (``BenchHub.body_plan``): the tests' hub uses both to make the network misbehave.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode, urlsplit

from app.bench.hub.repos import (
    EXPAND_PROPERTIES,
    INFO_KEYS,
    LIST_DEFAULT_KEYS,
    LIST_FULL_KEYS,
    SORT_KEYS,
)

if TYPE_CHECKING:
    from app.bench.hub.repos import Commit, HubFile, HubRepo
    from app.bench.hub.server import BenchHub, OriginServer

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
UNSATISFIABLE = "unsatisfiable"


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


_STREAM_CHUNK = 256 * 1024
_EMPTY_AGENT_REGISTRY: dict[str, object] = {"standardEnvVars": [], "harnesses": {}}


class _BadRequest(Exception):
    """A query the Hub would refuse with 400 (unknown sort or expand value, a non-numeric limit...)."""


class HubHandler(BaseHTTPRequestHandler):
    """Routes one origin's requests; the Hub's API and resolve endpoints, or the CDN."""

    protocol_version = "HTTP/1.1"
    server_version = "HearthBenchHub/1.0"
    timeout = 30
    server: OriginServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def send_response(self, code: int, message: str | None = None) -> None:
        self.responded = True
        super().send_response(code, message)

    def _dispatch(self, method: str) -> None:
        hub = self.server.hub
        self.responded = False
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        hub.record(method, self.path, {k.lower(): v for k, v in self.headers.items()})
        self.target = unquote(self.path)
        self.split = urlsplit(self.path)
        self.query = parse_qs(self.split.query, keep_blank_values=True)
        try:
            if answer := hub.intercept(method, self.target):
                self._send(
                    answer.status,
                    answer.body,
                    answer.content_type,
                    answer.headers,
                    head=method == "HEAD",
                )
            elif self.server.role == "cdn":
                self._cdn(method)
            else:
                self._route(method, body)
        except _BadRequest as error:
            self._send_error(400, None, str(error))
        except Exception as error:
            self.close_connection = True
            if expected_error(error, hub):
                return  # the client went away, or the hub is stopping: nothing to answer
            hub.server_errors.append(
                traceback.format_exc()
            )  # a bug in this server: keep it visible
            if not self.responded:
                self._send_error(500, None, "BenchHub internal error")

    # -- Hub routes ------------------------------------------------------------------------------

    def _route(self, method: str, body: bytes) -> None:
        segments = self.split.path.strip("/").split("/")
        if segments[:2] == ["api", "models"] and method == "GET" and len(segments) == 2:
            return self._list_models()
        if segments[:2] == ["api", "models"] and len(segments) > 2:
            repo_id, found, rest = self._split_repo(segments[2:])
            if (repo := self._visible(repo_id, found)) is None:
                return None
            if not rest and method == "GET":
                return self._model_info(repo, "main")
            if len(rest) == 2 and rest[0] == "revision" and method == "GET":
                return self._model_info(repo, unquote(rest[1]))
            if len(rest) >= 2 and rest[0] == "tree" and method == "GET":
                return self._tree(repo, unquote(rest[1]), unquote("/".join(rest[2:])))
            if len(rest) == 2 and rest[0] == "paths-info" and method == "POST":
                return self._paths_info(repo, unquote(rest[1]), body)
        elif segments[:2] == ["api", "agent-harnesses"]:
            return self._send_json(200, _EMPTY_AGENT_REGISTRY, head=method == "HEAD")
        elif segments[:2] == ["api", "whoami-v2"] and method == "GET":
            return self._whoami()
        elif method in ("GET", "HEAD"):
            for at in (2, 1):
                if len(segments) > at + 2 and segments[at] == "resolve":
                    repo_id = "/".join(unquote(s) for s in segments[:at])
                    if (repo := self._visible(repo_id, self.server.hub.repo(repo_id))) is not None:
                        self._resolve(
                            method,
                            repo,
                            unquote(segments[at + 1]),
                            unquote("/".join(segments[at + 2 :])),
                        )
                    return None
        return self._send_error(404, None, "Sorry, we can't find the page you are looking for.")

    def _split_repo(self, segments: list[str]) -> tuple[str, HubRepo | None, list[str]]:
        for size in (2, 1):
            repo_id = "/".join(unquote(s) for s in segments[:size])
            if len(segments) >= size and (repo := self.server.hub.repo(repo_id)) is not None:
                return repo_id, repo, segments[size:]
        return "/".join(unquote(s) for s in segments[:2]), None, segments[2:]

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def _authorized(self) -> bool:
        return self._token() in self.server.hub.valid_tokens

    def _whoami(self) -> None:
        """The account of a valid token, as huggingface.co answers; 401 for any other token."""
        if not self._authorized():
            return self._send_error(401, None, "Invalid credentials in Authorization header")
        hub = self.server.hub
        name = hub.token_users.get(self._token() or "", "hearth-user")
        return self._send_json(
            200,
            {
                "type": "user",
                "id": hashlib.sha1(name.encode()).hexdigest()[:24],
                "name": name,
                "fullname": name,
                "orgs": [],
                "auth": {
                    "type": "access_token",
                    "accessToken": {
                        "displayName": hub.token_names.get(self._token() or "", "read-token"),
                        "role": "read",
                    },
                },
            },
        )

    def _visible(self, repo_id: str, repo: HubRepo | None) -> HubRepo | None:
        """The repo when this request may see it; else None, with the Hub's refusal sent."""
        if repo is not None and (not repo.private or self._authorized()):
            return repo
        status = 401 if repo is not None else 404  # the Hub hides private repos behind a 401
        self._send_error(status, "RepoNotFound", "Repository not found")
        return None

    def _commit(self, repo: HubRepo, revision: str) -> Commit | None:
        commit = repo.commit(revision)
        if commit is None:
            self._send_error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    def _list_models(self) -> None:
        hub, query = self.server.hub, self.query
        sort, expand, gated = _first(query, "sort"), _expand(query), _first(query, "gated").lower()
        if sort and sort not in SORT_KEYS:
            raise _BadRequest(f"Invalid sort parameter: {sort!r}")
        authorized = self._authorized()
        repos = [
            r
            for r in hub.all_repos()
            if (not r.private or authorized)
            and r.matches(
                search=_first(query, "search"),
                author=_first(query, "author"),
                filters=query.get("filter", []),
                pipeline_tag=_first(query, "pipeline_tag"),
            )
            and (not gated or (r.gated is not False) == (gated == "true"))
        ]
        if sort:
            repos.sort(
                key=lambda r: getattr(r, SORT_KEYS[sort]), reverse=_first(query, "direction") != "1"
            )
        if expand:
            keys = ["_id", "id", *expand]
        else:
            keys = list(LIST_FULL_KEYS if _flag(self.query, "full") else LIST_DEFAULT_KEYS)
            keys += ["cardData"] if _flag(self.query, "cardData") else []
        size = min(_int(query, "limit", hub.page_size), hub.max_page_size)
        self._send_page([r.to_json(keys) for r in repos], size)

    def _model_info(self, repo: HubRepo, revision: str) -> None:
        expand = _expand(self.query)
        if commit := self._commit(repo, revision):
            keys = ["_id", "id", *expand] if expand else INFO_KEYS
            self._send_json(
                200, repo.to_json(keys, commit=commit, blobs=_flag(self.query, "blobs"))
            )

    def _tree(self, repo: HubRepo, revision: str, folder: str) -> None:
        if commit := self._commit(repo, revision):
            expand = _flag(self.query, "expand")
            entries = commit.tree(folder, recursive=_flag(self.query, "recursive"), expand=expand)
            if entries is None:
                return self._send_error(
                    404, "EntryNotFound", f"{folder} does not exist on {revision}"
                )
            self._send_page(entries, 50 if expand else self.server.hub.tree_page_size)

    def _paths_info(self, repo: HubRepo, revision: str, body: bytes) -> None:
        if "json" in self.headers.get("Content-Type", ""):
            form = json.loads(body or b"{}")
            paths, expand = form.get("paths", []), bool(form.get("expand"))
        else:
            form = parse_qs(body.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), _flag(form, "expand")
        if commit := self._commit(repo, revision):
            infos = [commit.path_info(p, expand=expand) for p in paths]
            self._send_json(200, [info for info in infos if info is not None])

    def _resolve(self, method: str, repo: HubRepo, revision: str, filename: str) -> None:
        hub = self.server.hub
        commit = self._commit(repo, revision)
        if commit is None:
            return None
        if repo.gated and not self._authorized():
            if self._token() is None:
                message = (
                    f"Access to model {repo.repo_id} is restricted. You must have access to it and be "
                    "authenticated to access it. Please log in."
                )
                return self._send_error(401, "GatedRepo", message)
            message = (
                f"Access to model {repo.repo_id} is restricted and you are not in the authorized list. "
                f"Visit {hub.url}/{repo.repo_id} to ask for access."
            )
            return self._send_error(403, "GatedRepo", message)
        entry = commit.files.get(filename)
        headers = {"X-Repo-Commit": commit.sha}
        if entry is None:
            return self._send_error(
                404, "EntryNotFound", f"{filename} does not exist on {revision}", headers
            )
        if not entry.is_lfs:
            headers["ETag"] = f'"{entry.blob_id}"'
            return self._send_file(method, repo.repo_id, entry, headers)
        location = hub.cdn_location(repo.repo_id, commit, entry)
        headers.update(
            {
                "Location": location,
                "ETag": f'"{entry.blob_id}"',
                "X-Linked-Etag": f'"{entry.sha256}"',
                "X-Linked-Size": str(entry.size),
            }
        )
        self._send(
            302,
            f"Found. Redirecting to {location}".encode(),
            "text/plain; charset=utf-8",
            headers,
            head=method == "HEAD",
        )

    # -- CDN -------------------------------------------------------------------------------------

    def _cdn(self, method: str) -> None:
        """Signed-URL storage: ``/repos/aa/bb/{sha256}?repo=..&commit=..&file=..``; no auth, Range aware."""
        repo = self.server.hub.repo(_first(self.query, "repo"))
        commit = repo.commit(_first(self.query, "commit")) if repo else None
        entry = commit.files.get(_first(self.query, "file")) if commit else None
        if (
            method not in ("GET", "HEAD")
            or repo is None
            or entry is None
            or not self.split.path.endswith(f"/{entry.sha256}")
        ):
            return self._send(404, b"NoSuchKey", "text/plain", {}, head=method == "HEAD")
        name = entry.name.rsplit("/", 1)[-1]
        headers = {
            "ETag": f'"{entry.sha256}"',
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}; filename=\"{name}\";",
            "Cache-Control": "public, max-age=604800, immutable",
        }
        self._send_file(method, repo.repo_id, entry, headers)

    # -- responses -------------------------------------------------------------------------------

    def _send_file(
        self, method: str, repo_id: str, entry: HubFile, headers: dict[str, str]
    ) -> None:
        """Serve a file's content (or its headers, for HEAD), honouring ``Range: bytes=a-b|a-|-n``."""
        hub, size = self.server.hub, entry.size
        span = parse_range(self.headers.get("Range"), size)
        if isinstance(span, str):  # UNSATISFIABLE, the only string parse_range returns
            return self._send(
                416,
                b"",
                "text/plain",
                {**headers, "Content-Range": f"bytes */{size}"},
                head=method == "HEAD",
            )
        start, end = span if span else (0, size - 1)
        if span:
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
        self.send_response(206 if span else 200)
        for key, value in {
            **headers,
            "Accept-Ranges": "bytes",
            "Content-Type": _content_type(entry.name),
            "Content-Length": str(end - start + 1),
        }.items():
            self.send_header(key, value)
        self.end_headers()
        if method == "HEAD":
            return None
        plan = hub.body_plan(self.target, repo_id, entry)
        length = end - start + 1
        if plan.cut_after is not None:
            length = min(length, plan.cut_after)
        self._stream(entry, start, length, plan.flip_at, plan.bytes_per_second)
        if plan.cut_after is not None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        return None

    def _stream(self, entry: HubFile, start: int, length: int, flip: int, rate: int) -> None:
        stopping = self.server.hub.stopping
        chunk_size = max(1, rate // 20) if rate else _STREAM_CHUNK
        with entry.open() as reader:
            reader.seek(start)
            position, remaining = start, length
            while remaining > 0 and (data := reader.read(min(chunk_size, remaining))):
                if position <= flip < position + len(data):
                    flipped = bytearray(data)
                    flipped[flip - position] ^= 0xFF
                    data = bytes(flipped)
                self.wfile.write(data)
                position, remaining = position + len(data), remaining - len(data)
                if rate and stopping.wait(len(data) / rate):
                    return

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
        *,
        head: bool = False,
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

    def _send_json(
        self,
        status: int,
        payload: object,
        headers: dict[str, str] | None = None,
        *,
        head: bool = False,
    ) -> None:
        self._send(
            status,
            json.dumps(payload).encode(),
            "application/json; charset=utf-8",
            headers or {},
            head=head,
        )

    def _send_error(
        self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None
    ) -> None:
        extra = {**(headers or {}), "X-Error-Message": message}
        if code:
            extra["X-Error-Code"] = code
        self._send_json(status, {"error": message}, extra, head=self.command == "HEAD")

    def _send_page(self, items: list[dict], size: int) -> None:
        """One page of a listing, with ``Link: <next>; rel="next"`` while more remain (cursor = offset)."""
        offset = _int(self.query, "cursor" if "cursor" in self.query else "offset", 0)
        headers = {}
        if offset + size < len(items):
            pairs = [
                (k, v)
                for k, v in parse_qsl(self.split.query, keep_blank_values=True)
                if k not in ("cursor", "offset")
            ]
            next_url = f"{self.server.hub.url}{self.split.path}?{urlencode([*pairs, ('cursor', offset + size)])}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        self._send_json(200, items[offset : offset + size], headers)


def expected_error(error: BaseException | None, hub: BenchHub) -> bool:
    return isinstance(error, (ConnectionError, TimeoutError)) or (
        isinstance(error, OSError) and hub.stopping.is_set()
    )


def _first(params: dict[str, list[str]], key: str) -> str:
    return params.get(key, [""])[0]


def _int(params: dict[str, list[str]], key: str, default: int) -> int:
    value = _first(params, key)
    if not value:
        return default
    if not value.isdigit():
        raise _BadRequest(f"Invalid {key} parameter: {value!r}")
    return int(value)


def _expand(params: dict[str, list[str]]) -> list[str]:
    expand = params.get("expand", [])
    if unknown := set(expand) - EXPAND_PROPERTIES:
        raise _BadRequest(f"Invalid expand parameter: {sorted(unknown)}")
    return expand


def _flag(params: dict[str, list[str]], key: str) -> bool:
    return params.get(key, ["false"])[0].lower() in ("1", "true")


def _content_type(name: str) -> str:
    if name.endswith(".json"):
        return "application/json"
    if name.endswith((".md", ".txt", ".gitattributes", ".jinja")):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"
