"""The API server's connections: how many are held, which are idle, and how a refusal is said.

Every program on this computer reaches the server from the one address 127.0.0.1, so a limit
per address must never let one program's idle keep-alive connections lock the others out
(measured before this module: 8 idle pooled connections kept ``GET /v1/models`` at 429 for the
120 s they were kept alive). So:

- connections are capped (``max_connections`` in all, ``max_per_client`` from one address) to
  bound the threads slow clients can hold; when a cap is reached, the connection idle the
  longest between requests is closed to make room (clients reconnect for their next request,
  as HTTP allows a server to close an idle connection), and idle ones are kept only
  ``BUSY_IDLE_S`` while the server is half full;
- only when no connection is idle is a new one refused, and then readably: the answer is
  written, the sending side shut, and what the client sends is read and dropped until it closes
  (closing a socket with unread bytes in it makes Linux send a reset, which clients saw instead
  of the 429: 24 of 32 in one burst);
- the listen backlog (``BACKLOG``) holds a burst of connects while the connection threads start.

Requests waiting for the model are counted apart, per address (``ApiServer.max_waiting``).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

log = logging.getLogger("hearth.server")

BACKLOG = 128  # connects the kernel holds before the server accepts them (socketserver's is 5)
BUSY_IDLE_S = 5.0  # how long an idle keep-alive connection is kept while the server is busy
RETRY_AFTER_S = 1  # what a refused client is told to wait (``Retry-After``)
REFUSE_S = 2.0  # how long a refused connection is drained before it is closed anyway
MAX_REFUSERS = 32  # refusals being drained at once; past it a refusal is written and closed


def refusal(status: int, code: str, message: str) -> bytes:
    """A whole HTTP answer refusing a request: an OpenAI-shaped error, ``Retry-After``."""
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "server_error" if status >= 500 else "invalid_request_error",
                "code": code,
                "param": None,
            }
        }
    ).encode()
    phrase = {429: "Too Many Requests", 503: "Service Unavailable"}[status]
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\nConnection: close\r\n"
        f"Retry-After: {RETRY_AFTER_S}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


BUSY = refusal(503, "server_busy", "Too many connections: try again shortly.")


def crowded(limit: int) -> bytes:
    return refusal(
        429,
        "too_many_connections",
        f"This address already has {limit} connections open to Hearth, the most one client "
        "may hold, and none of them is idle: wait for an answer to end, then try again.",
    )


@dataclass(eq=False)
class Connection:
    sock: socket.socket
    client: str
    idle_since: float | None = None  # time.monotonic() while waiting between requests
    reaped: bool = False  # closed by the server to make room
    released: bool = field(default=False, repr=False)


class Limits(Protocol):
    """What ``HttpServer`` reads of the ``ApiServer`` it serves (named here, not imported: the
    ``ApiServer`` module imports this one)."""

    max_connections: int
    max_per_client: int


# socketserver's request: a datagram server's is (data, socket); this TCP server's is a socket.
Request = socket.socket | tuple[bytes, socket.socket]


def _connection(request: Request) -> socket.socket:
    assert isinstance(request, socket.socket)  # a TCP server: each request is a connection
    return request


class HttpServer(ThreadingHTTPServer):
    """Counts connections, closes idle ones to make room, refuses readably, closes all at once.
    ``app`` is the ``ApiServer`` (its limits); ``handler`` the request handler class."""

    daemon_threads = False  # a connection thread is not cut off mid-answer at exit
    block_on_close = False  # its threads are waited for by ``close``, a bounded time if asked
    request_queue_size = BACKLOG

    def __init__(
        self, app: Limits, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]
    ) -> None:
        self.app = app
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._open: dict[socket.socket, Connection] = {}
        self._per_client: dict[str, int] = {}
        self._lock = threading.Lock()
        self._refusers: set[threading.Thread] = set()
        self._workers: set[threading.Thread] = set()  # the connection threads still running
        super().__init__(address, handler)

    # -- admission ------------------------------------------------------------------------
    def process_request(self, request: Request, client_address: tuple[str, int]) -> None:
        sock, client = _connection(request), client_address[0]
        per_client = min(self.app.max_per_client, self.app.max_connections)
        with self._lock:
            if self._per_client.get(client, 0) >= per_client:
                self._reap_idle(client)
            if len(self._open) >= self.app.max_connections:
                self._reap_idle(None)
            if len(self._open) >= self.app.max_connections:
                answer = BUSY
            elif self._per_client.get(client, 0) >= per_client:
                answer = crowded(per_client)
            else:
                answer = None
                self._open[sock] = Connection(sock, client)
                self._per_client[client] = self._per_client.get(client, 0) + 1
        if answer is not None:
            log.info("%s: no connection free; one refused", client)
            self._refuse(sock, answer)
            return
        # ThreadingMixIn's own, with the thread noted before it starts, for ``close``.
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"hearth-api-{client}",
            daemon=self.daemon_threads,
        )
        with self._lock:
            self._workers.add(thread)
        thread.start()

    def _reap_idle(self, client: str | None) -> None:
        """Close the connection idle the longest (of ``client``, or of anyone); under the lock."""
        idle = [
            c
            for c in self._open.values()
            if c.idle_since is not None and not c.reaped and client in (None, c.client)
        ]
        if not idle:
            return
        oldest = min(idle, key=lambda c: c.idle_since or 0.0)
        oldest.reaped = True
        self._release(oldest)
        try:
            oldest.sock.shutdown(socket.SHUT_RDWR)  # wakes its thread, which then ends
        except OSError:
            pass

    def _release(self, conn: Connection) -> None:
        """Free ``conn``'s place (once); under the lock."""
        if conn.released:
            return
        conn.released = True
        self._open.pop(conn.sock, None)
        left = self._per_client.get(conn.client, 1) - 1
        if left > 0:
            self._per_client[conn.client] = left
        else:
            self._per_client.pop(conn.client, None)

    def process_request_thread(self, request: Request, client_address: tuple[str, int]) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                conn = self._open.get(_connection(request))
                if conn is not None:
                    self._release(conn)
                self._workers.discard(threading.current_thread())

    # -- idle connections (called by the request handler) -----------------------------------
    def leave_if_busy(self, sock: socket.socket) -> bool:
        """Whether ``sock``, idle for the busy idle time (``BUSY_IDLE_S``), is to close because
        half the connections (in all, or of its address) are taken. Its place is freed at once,
        under the same lock as the count: two idle connections timing out together then count
        the server as it will be, and only one closes where one closing makes room. (Counted
        before the first had freed its place, both closed: 5 of 30 runs, with two Python
        threads busy in the same process.)"""
        with self._lock:
            conn = self._open.get(sock)
            if conn is None:
                return True  # already closed to make room
            busy = len(self._open) * 2 >= self.app.max_connections or (
                self._per_client.get(conn.client, 0) * 2 >= self.app.max_per_client
            )
            if busy:
                conn.reaped = True
                self._release(conn)
            return busy

    def set_idle(self, sock: socket.socket, idle: bool) -> bool:
        """Mark ``sock`` idle (waiting for its next request) or not; False when it was closed
        to make room meanwhile, and must end."""
        with self._lock:
            conn = self._open.get(sock)
            if conn is None:
                return False
            conn.idle_since = time.monotonic() if idle else None
            return not conn.reaped

    # -- refusals -------------------------------------------------------------------------
    def _refuse(self, sock: socket.socket, answer: bytes) -> None:
        with self._lock:
            self._refusers = {t for t in self._refusers if t.is_alive()}
            room = len(self._refusers) < MAX_REFUSERS
            if room:
                thread = threading.Thread(
                    target=refuse, args=(sock, answer), name="hearth-api-refusal", daemon=True
                )
                self._refusers.add(thread)
        if room:
            thread.start()
        else:
            refuse(sock, answer, drain_s=0)

    # -- life -----------------------------------------------------------------------------
    def open_count(self) -> int:
        with self._lock:
            return len(self._open)

    def close_connections(self) -> None:
        """Wake connection threads waiting on idle keep-alive connections."""
        with self._lock:
            socks = list(self._open)
            refusers = list(self._refusers)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in refusers:
            thread.join(REFUSE_S + 1)

    def close(self, timeout_s: float | None = None) -> list[str]:
        """Close the listening socket and wait for the connection threads: until they end
        (``None``), or at most ``timeout_s`` for them all (at quit). The names of those still
        running then, left behind rather than waited for."""
        self.server_close()  # block_on_close is off: the socket only
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            workers = list(self._workers)
        for thread in workers:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return sorted(thread.name for thread in workers if thread.is_alive())

    def handle_error(self, request: Request, client_address: tuple[str, int]) -> None:
        log.exception("Unexpected error while answering %s", client_address[0])


def refuse(sock: socket.socket, answer: bytes, drain_s: float = REFUSE_S) -> None:
    """Write ``answer``, shut the sending side, and drop what the client sends until it closes
    (at most ``drain_s``), so that the client reads the answer rather than a reset."""
    try:
        sock.settimeout(drain_s or 1.0)
        sock.sendall(answer)
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + drain_s
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                break
    except OSError:
        pass
    finally:
        sock.close()
