"""A picture host on 127.0.0.1 that counts who asks: a link in a chat request must never reach
it (the API server refuses links and never fetches them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class PictureHost:
    url: str  # a picture's link on this host
    hits: int = 0  # requests it answered


@contextmanager
def picture_host(png: bytes) -> Iterator[PictureHost]:
    """A host serving ``png`` at every path, for as long as the ``with`` block runs."""
    host = PictureHost("")

    class Pictures(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            host.hits += 1
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pictures)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    host.url = f"http://127.0.0.1:{server.server_address[1]}/cat.png"
    try:
        yield host
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
