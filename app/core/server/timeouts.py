"""Time limits on reading a request, so slow clients cannot hold the server's connections.

A socket timeout bounds each wait for bytes, not a whole request: a client sending its headers
one byte every few seconds (slowloris) would never be cut off. ``DeadlineReader`` is the raw
stream under a connection's ``rfile`` and gives every read only the time left before a
deadline: the server sets one for the next request to start (a short one on a new connection,
the keep-alive idle time between requests), then one for its headers, then one for its body.
"""

from __future__ import annotations

import io
import socket
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

REQUEST_S = 10.0  # a new connection must start its request this soon; then its request line
# and headers must be in within this, and its body within this plus BODY_BYTES_PER_S
IDLE_S = 120.0  # a kept-alive connection may wait this long for its next request
BODY_BYTES_PER_S = 1_000_000


class DeadlineReader(io.RawIOBase):
    """Reads from ``sock``; once the deadline passes a read raises ``TimeoutError``."""

    def __init__(self, sock: socket.socket, default_timeout: float | None) -> None:
        super().__init__()
        self._sock = sock
        self._default = default_timeout
        self.deadline: float | None = None  # time.monotonic(); None: only the socket timeout
        self.timed_out = False

    def readable(self) -> bool:
        return True

    def expire_in(self, seconds: float | None) -> None:
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self.deadline is None:
            return self._sock.recv_into(buffer)
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.timed_out = True
            raise TimeoutError("the request took too long to arrive")
        self._sock.settimeout(left if self._default is None else min(left, self._default))
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            self.timed_out = True
            raise
        finally:
            self._sock.settimeout(self._default)  # writes keep the plain socket timeout


def body_time(length: int, request_timeout: float = REQUEST_S) -> float:
    """Seconds a body of ``length`` bytes is given to arrive."""
    return request_timeout + length / BODY_BYTES_PER_S
