"""One connection to Hearth's API server: routing, the API key, body limits, writing answers.

Each request is answered by a ``RequestHandler`` in its connection's thread; the generation
itself goes through the server's ``Backend`` (app.core.server.answers). Errors are answered in
OpenAI's shape. A write to a client that has gone away, or a closed connection noticed while
the answer is being made, stops that generation.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from app.core.server import cors, schema
from app.core.server.answers import Answering, ClientStop
from app.core.server.body import read_chunked
from app.core.server.connections import RETRY_AFTER_S
from app.core.server.errors import ApiError
from app.core.server.ollama import OllamaFace, error_body
from app.core.server.timeouts import DeadlineReader, body_time

log = logging.getLogger("hearth.server")

SOCKET_TIMEOUT_S = 120  # the longest a single read or write waits (api_timeouts bounds more)


@dataclass(frozen=True)
class RequestRecord:
    """One line of the request log. Never holds a header, a body or the API key."""

    time: float  # seconds since the epoch, when the request arrived
    method: str
    path: str
    status: int  # 499 (client closed request): the client went away before the answer ended
    tokens: int
    duration_s: float
    client: str


class RequestHandler(OllamaFace, Answering, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A request line that cannot be read (a TLS hello, garbage) is answered with a status line
    # and headers too; http.server would take it for HTTP/0.9 and send a bare body.
    default_request_version = "HTTP/1.1"
    server_version = "Hearth"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S
    _ROUTES: ClassVar[dict[str, dict[str, str]]] = {
        "/v1/models": {"GET": "_models"},
        "/v1/chat/completions": {"POST": "_chat"},
        "/v1/completions": {"POST": "_completion"},
        "/v1/embeddings": {"POST": "_embeddings"},
        "/health": {"GET": "_health"},
        "/api/version": {"GET": "_ollama_version"},  # the Ollama face (app.core.server.ollama)
        "/api/tags": {"GET": "_ollama_tags"},
        "/api/show": {"POST": "_ollama_show"},
        "/api/chat": {"POST": "_ollama_chat"},
        "/api/generate": {"POST": "_ollama_generate"},
    }
    _OPEN = {"/health"}  # answered without the API key (it tells only whether a model is loaded)

    def setup(self) -> None:
        super().setup()
        # Each answer is written whole (headers with the body), but a stream's events are
        # small writes on a connection with unacknowledged data: without this, Nagle's
        # algorithm held each answer on a reused connection ~40 ms for the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile.close()  # replaced by one that keeps to the deadlines
        self._reader = DeadlineReader(self.connection, self.timeout)
        # Kept typed as a BufferedReader: its peek() waits for a request without taking a byte.
        self._buffered = io.BufferedReader(self._reader)
        self.rfile = self._buffered
        self._served = 0

    def handle_one_request(self) -> None:
        """Wait for a request (briefly on a new connection, the idle time between requests),
        then give its request line and headers the server's request timeout."""
        app, httpd = self.server.app, self.server
        if self._served:  # idle between requests: may be closed to make room for another
            httpd.set_idle(self.connection, True)
            started = self._wait_idle()
        else:
            self._reader.expire_in(app.request_timeout)
            try:
                started = self._buffered.peek(1)
            except OSError:  # timed out, or reset
                started = b""
        if not httpd.set_idle(self.connection, False):
            started = b""  # closed to make room meanwhile
        if not started:
            self.close_connection = True
            return
        self.command, self.request_version = "", "HTTP/1.1"  # until the request line is read
        self._reader.timed_out = False
        self._reader.expire_in(app.request_timeout)
        self._headers_sent = False
        self._cors_origin: str | None = None
        try:
            super().handle_one_request()
        finally:
            self._reader.expire_in(None)
        self._served += 1
        if self._reader.timed_out and not self._headers_sent:  # headers too slow
            log.info(
                "%s: a request's headers took more than %g s; connection closed",
                self.client_address[0],
                app.request_timeout,
            )
            self.send_error(
                408,
                f"The request's headers took longer than "
                f"{app.request_timeout:g} s to arrive: send the whole request at "
                "once.",
            )

    def _wait_idle(self) -> bytes:
        """Wait for the next request on a kept-alive connection: up to the idle timeout, looking
        every busy idle time whether the server has become busy (then it ends). b"" when the
        connection is to close."""
        app, httpd = self.server.app, self.server
        end = time.monotonic() + app.idle_timeout
        while True:
            left = end - time.monotonic()
            self._reader.expire_in(min(left, app.busy_idle_timeout))
            try:
                return self._buffered.peek(1)
            except TimeoutError:
                if left <= app.busy_idle_timeout or httpd.leave_if_busy(self.connection):
                    return b""
            except OSError:  # reset, or closed to make room
                return b""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        started, clock = time.time(), time.monotonic()
        self._status, self._tokens = 0, 0
        self._body_read = self._headers_sent = False
        self._cors_origin = None
        path = urlsplit(self.path).path.rstrip("/") or "/"
        app = self.server.app
        try:
            route = self._ROUTES.get(
                path, {"GET": "_model"} if path.startswith("/v1/models/") else None
            )
            if route is None:
                raise ApiError(
                    404,
                    f"Hearth has no endpoint {path}. It serves /v1/models, "
                    "/v1/chat/completions, /v1/completions, /v1/embeddings, /health and "
                    "Ollama's /api/chat, "
                    "/api/generate, /api/tags, /api/show and /api/version.",
                    "unknown_url",
                )
            self._check_origin()
            if self.command == "OPTIONS":  # a browser's preflight: before the key, as sent
                self._send_empty(
                    204, cors.preflight_headers(self.headers.get("Access-Control-Request-Headers"))
                )
                return
            method = "GET" if self.command == "HEAD" else self.command
            if method not in route:
                allowed = [*route, *(["HEAD"] if "GET" in route else []), "OPTIONS"]
                raise ApiError(
                    405,
                    f"{path} does not take {self.command}; use {', '.join(allowed)}.",
                    "method_not_allowed",
                )
            if path not in self._OPEN and not app.key_accepted(self.headers.get("Authorization")):
                raise ApiError(
                    401,
                    "Incorrect or missing API key. Send it as the header "
                    "'Authorization: Bearer KEY'.",
                    "invalid_api_key",
                )
            getattr(self, route[method])()
        except ApiError as exc:
            if self._headers_sent:
                self.close_connection = True
            else:
                ollama = path.startswith("/api/")
                self._send_json(exc.status, error_body(exc) if ollama else exc.body())
        except Exception:
            log.exception("Unexpected error answering %s %s", self.command, path)
            if not self._headers_sent:
                self._send_json(
                    500,
                    ApiError(
                        500,
                        "Hearth hit an unexpected error; details are in its log file.",
                        "internal_error",
                        "server_error",
                    ).body(),
                )
            self.close_connection = True
        finally:
            app.record(
                RequestRecord(
                    started,
                    self.command,
                    path,
                    self._status,
                    self._tokens,
                    time.monotonic() - clock,
                    self.client_address[0],
                )
            )

    def _check_origin(self) -> None:
        """Refuse a web page the server does not allow (app.core.server.cors); note an allowed
        one, for ``Access-Control-Allow-Origin`` on the answer."""
        origin = self.headers.get("Origin")
        if origin is None:
            return  # not from a browser's page
        if not cors.origin_allowed(origin, self.server.app.allowed_origins):
            raise ApiError(
                403,
                f"Web pages from {origin[:100]} may not use this server: only pages on this "
                "computer may. To allow them, start it as "
                f"'hearth serve --allow-origin {origin[:100]}'.",
                "origin_not_allowed",
            )
        self._cors_origin = origin

    def _health(self) -> None:
        loaded = bool(self.server.app.backend.model_name())
        self._send_json(
            200 if loaded else 503,
            {"status": "ok" if loaded else "no_model", "model_loaded": loaded},
        )

    # -- endpoints ------------------------------------------------------------------------
    def _models(self) -> None:
        self._send_json(200, schema.models_list(self.server.app.backend.model_name()))

    def _model(self) -> None:
        name = unquote(urlsplit(self.path).path.split("/v1/models/", 1)[1])
        listed = schema.models_list(self.server.app.backend.model_name())["data"]
        if not listed or listed[0]["id"] != name:
            raise ApiError(404, f"No model called '{name}' is served here.", "model_not_found")
        self._send_json(200, listed[0])

    def _chat(self) -> None:
        self._generate(schema.parse_chat(self._body(), self.server.app.defaults), False)

    def _completion(self) -> None:
        self._generate(schema.parse_completion(self._body(), self.server.app.defaults), True)

    # -- reading and writing --------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            app = self.server.app
            self._reader.expire_in(body_time(app.max_body, app.request_timeout))
            try:
                raw = read_chunked(self.rfile, app.max_body)
            except TimeoutError as exc:
                raise ApiError(
                    408,
                    "The request body took too long to arrive: send it at once.",
                    "request_timeout",
                ) from exc
            finally:
                self._reader.expire_in(None)
            self._body_read = True
            return schema.parse_json(raw)
        try:
            length = int(self.headers.get("Content-Length", ""))
            if length < 0:
                raise ValueError(length)
        except ValueError as exc:
            raise ApiError(
                411, "Send the request body with a valid Content-Length header.", "length_required"
            ) from exc
        limit = self.server.app.max_body
        if length > limit:
            raise ApiError(
                413,
                f"The request body is {length:,} bytes; this server takes at most {limit:,}.",
                "request_too_large",
            )
        timeout = body_time(length, self.server.app.request_timeout)
        self._reader.expire_in(timeout)
        try:
            raw = self.rfile.read(length)
        except TimeoutError as exc:
            raise ApiError(
                408,
                f"The request body took longer than {timeout:g} s to arrive: send it at once.",
                "request_timeout",
            ) from exc
        finally:
            self._reader.expire_in(None)
        if len(raw) < length:
            raise ApiError(
                400, "The request body ended before its Content-Length.", "incomplete_body"
            )
        self._body_read = True
        return schema.parse_json(raw)

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._status = status
        if self.command == "POST" and not self._body_read:
            self.close_connection = True  # the unread body would be taken for the next request
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="hearth"')
            if status in (429, 503):
                self.send_header("Retry-After", str(RETRY_AFTER_S))
            self._cors_headers()
            if self.close_connection:
                self.send_header("Connection", "close")
            self._end_headers_with(b"" if self.command == "HEAD" else data)
        except OSError:
            self.close_connection = True
        self._headers_sent = True

    def _event(self, payload: dict[str, Any], stop: ClientStop, ndjson: bool = False) -> None:
        """Write one SSE event (opening the stream first), or one JSON line (``ndjson``, as
        Ollama streams); a failed write means the client left."""
        if stop.client_gone:
            return
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        data = data + b"\n" if ndjson else b"data: " + data + b"\n\n"
        chunk = b"%x\r\n%s\r\n" % (len(data), data) if self._chunked() else data
        try:
            if not self._headers_sent:
                self._headers_sent, self._status = True, 200
                self.send_response(200)
                self.send_header(
                    "Content-Type", "application/x-ndjson" if ndjson else "text/event-stream"
                )
                self.send_header("Cache-Control", "no-cache")
                self._cors_headers()
                if self._chunked():
                    self.send_header("Transfer-Encoding", "chunked")
                else:  # HTTP/1.0 has no chunks: the answer ends when the connection closes
                    self.close_connection = True
                    self.send_header("Connection", "close")
                self._end_headers_with(chunk)
            else:
                self.wfile.write(chunk)
        except OSError:
            stop.gone()

    def _end_stream(self, stop: ClientStop, ndjson: bool = False) -> None:
        done = b"" if ndjson else b"data: [DONE]\n\n"
        try:
            if not stop.client_gone:
                chunked = self._chunked()
                last = b"%x\r\n%s\r\n" % (len(done), done) if done else b""
                self.wfile.write(last + b"0\r\n\r\n" if chunked else done)
        except OSError:
            stop.gone()
        if stop.client_gone:
            self.close_connection = True

    def _send_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        self._status = status
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self._cors_headers()
            self._end_headers_with(b"")
        except OSError:
            self.close_connection = True
        self._headers_sent = True

    def _cors_headers(self) -> None:
        if self._cors_origin is not None:
            self.send_header("Access-Control-Allow-Origin", self._cors_origin)
            self.send_header("Vary", "Origin")

    def _chunked(self) -> bool:
        """Whether a stream goes in chunks (HTTP/1.1), as HTTP/1.0 forbids (RFC 7230 3.3.1)."""
        return self.request_version != "HTTP/1.0"

    def _end_headers_with(self, data: bytes) -> None:
        """End the headers and write them with ``data`` in one send (``end_headers`` would
        write them alone: two packets, the second one waiting for the first one's ACK)."""
        if not hasattr(self, "_headers_buffer"):  # HTTP/0.9: http.server sends no headers
            self.wfile.write(data)
            return
        self._headers_buffer.append(b"\r\n" + data)  # http.server's buffer of header lines
        self.flush_headers()

    # -- http.server hooks ----------------------------------------------------------------
    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors (bad request line, headers too long...) in OpenAI's shape too."""
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
        self.close_connection = True
        self._body_read = True
        self._send_json(
            code, ApiError(code, message or phrase, phrase.lower().replace(" ", "_")).body()
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged by the server, path only (never a header or the query)."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s: %s", self.client_address[0], format % args)
