"""Hearth's OpenAI-compatible HTTP server, on the standard library's ``ThreadingHTTPServer``.

``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions``, streaming (SSE)
or not. Every answer goes through one ``Backend`` (app.core.inference.queue), which runs them
one at a time. Listens on 127.0.0.1 unless told otherwise; an API key, when set, is required as
``Authorization: Bearer KEY``. A client that goes away mid-answer stops its generation (and
is logged 499, client closed request).

Slow clients cannot hold the connections: a request must arrive within ``request_timeout``
(app.core.server.timeouts), and one client address may hold at most ``max_per_client`` of them
(idle keep-alive ones are closed to make room: app.core.server.connections). What protects the
model is counted apart: at most ``max_waiting`` requests from one address wait for it at once;
one more is answered 429 with ``Retry-After``.
"""

from __future__ import annotations

import errno
import hmac
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Self

from app.core.common.errors import ServerError
from app.core.inference.types import Backend, SamplingOptions
from app.core.server import timeouts
from app.core.server.connections import BUSY_IDLE_S, HttpServer
from app.core.server.handler import RequestHandler, RequestRecord

log = logging.getLogger("hearth.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_CONNECTIONS = 128  # connections held at once (a thread each)
MAX_PER_CLIENT = 96  # connections one client address may hold at once (others keep a quarter)
MAX_WAITING = 64  # requests from one address waiting for (or running on) the model at once
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ApiServer:
    """The server around one backend. ``start()`` listens, ``stop()`` ends every connection."""

    def __init__(
        self,
        backend: Backend,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        api_key: str = "",
        *,
        defaults: SamplingOptions | None = None,
        max_body: int = MAX_BODY_BYTES,
        max_connections: int = MAX_CONNECTIONS,
        max_per_client: int = MAX_PER_CLIENT,
        max_waiting: int = MAX_WAITING,
        allowed_origins: tuple[str, ...] = (),
        request_timeout: float = timeouts.REQUEST_S,
        idle_timeout: float = timeouts.IDLE_S,
        busy_idle_timeout: float = BUSY_IDLE_S,
        on_request: Callable[[RequestRecord], None] | None = None,
        log_size: int = 500,
    ) -> None:
        self.backend = backend
        self.host, self.port = host, port
        self.defaults = defaults or SamplingOptions()  # for the fields a request leaves out
        self.max_body = max_body
        self.max_connections = max_connections
        self.max_per_client = max_per_client
        self.max_waiting = max_waiting
        self.allowed_origins = tuple(allowed_origins)  # web pages beyond this computer's own
        self._waiting: Counter[str] = Counter()  # requests waiting for the model, by address
        self.request_timeout = request_timeout  # seconds for a request to start, headers, body
        self.idle_timeout = idle_timeout  # seconds a kept-alive connection waits for the next
        self.busy_idle_timeout = busy_idle_timeout  # the same while half the connections are taken
        self.on_request = on_request
        self._api_key = api_key
        self._records: deque[RequestRecord] = deque(maxlen=log_size)
        self._stops: set[threading.Event] = set()
        self._lock = threading.Lock()
        self._httpd: HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        """Listen (raises ``ServerError`` when the address cannot be used) and serve in a thread."""
        if self._httpd is not None:
            return
        try:
            self._httpd = HttpServer(self, (self.host, self.port), RequestHandler)
        except OSError as exc:
            raise ServerError(_bind_message(self.host, self.port, exc)) from exc
        self.port = self._httpd.server_address[1]
        if self.host not in LOOPBACK:
            log.warning(
                "Listening on %s port %d: other devices on the network can use this model%s",
                self.host,
                self.port,
                "" if self._api_key else " (no API key is set: anyone can)",
            )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.1,), name="hearth-api-server"
        )
        self._thread.start()
        log.info("Serving %s on %s", self.backend.model_name() or "(no model)", self.url)

    def stop(self, timeout_s: float | None = None) -> list[str]:
        """Stop answers in progress, close every connection and wait for their threads: until
        they end, or at most ``timeout_s`` in all (the window's quit, whose budget is bounded).
        Returns the names of the threads still running then, left behind and logged."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return []
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            for stop in self._stops:
                stop.set()
        httpd.shutdown()  # the serving loop ends within its 0.1 s poll
        httpd.close_connections()
        left = httpd.close(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self._thread is not None:  # set with _httpd, by start()
            self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if self._thread.is_alive():
                left.append(self._thread.name)
        if left:
            log.warning(
                "Server on port %d stopped with %d thread(s) still running, not waited for: %s",
                self.port,
                len(left),
                ", ".join(left),
            )
        else:
            log.info("Server on port %d stopped", self.port)
        return left

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def url(self) -> str:
        """The base URL clients use, ``http://HOST:PORT/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def open_connections(self) -> int:
        """Client connections open now (some may be idle keep-alive ones)."""
        httpd = self._httpd
        return httpd.open_count() if httpd is not None else 0

    def requests(self) -> list[RequestRecord]:
        """The most recent requests, oldest first."""
        with self._lock:
            return list(self._records)

    # -- used by the request handler -----------------------------------------------------
    def key_accepted(self, header: str | None) -> bool:
        if not self._api_key:
            return True
        scheme, _, given = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self._api_key.encode()
        )

    def enter_waiting(self, client: str) -> bool:
        """Count one more request from ``client`` waiting for the model; False (nothing
        counted) when it already has ``max_waiting``."""
        with self._lock:
            if self._waiting[client] >= self.max_waiting:
                return False
            self._waiting[client] += 1
            return True

    def leave_waiting(self, client: str) -> None:
        with self._lock:
            self._waiting[client] -= 1
            if self._waiting[client] <= 0:
                del self._waiting[client]

    def track_stop(self, stop: threading.Event, active: bool) -> None:
        with self._lock:
            (self._stops.add if active else self._stops.discard)(stop)

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
        log.info(
            "%s %s %d%s (%d tokens, %.2f s)",
            record.method,
            record.path,
            record.status,
            " client closed request" if record.status == 499 else "",
            record.tokens,
            record.duration_s,
        )
        if self.on_request is not None:
            try:
                self.on_request(record)
            except Exception:
                log.exception("Request listener failed")


def _bind_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"Port {port} is already in use on {host}: another program (or another Hearth) "
            "is listening there. Choose another port."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"Hearth is not allowed to listen on port {port}: choose a port above 1024."
    return f"Could not listen on {host}:{port}: {exc.strerror or exc}."
