"""``StopEvent`` and the remote backend's stop: a stop asked while the server is silent (still
reading a long prompt) ends the answer at once, with no thread polling the flag."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.core.inference.remote import Connection, RemoteBackend
from app.core.inference.stop import StopEvent
from app.core.inference.types import SamplingOptions

GATE_S = 30  # a safety net only: the test opens every gate itself


def test_callbacks_run_once_when_set_and_at_once_when_already_set():
    stop, calls = StopEvent(), []
    stop.on_set(lambda: calls.append("first"))
    forget = stop.on_set(lambda: calls.append("forgotten"))
    forget()
    stop.set()
    stop.set()
    assert calls == ["first"] and stop.is_set()
    stop.on_set(lambda: calls.append("late"))
    assert calls == ["first", "late"]


@pytest.fixture
def silent_server():
    """An OpenAI-like server that starts a streamed answer and then says nothing until
    ``release`` is set, as a server reading a long prompt does."""
    arrived, release = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.flush()
            arrived.set()
            release.wait(GATE_S)
            try:
                self.wfile.write(b"data: [DONE]\n\n")
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", arrived, release
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        serving.join()


def test_a_stop_while_the_server_is_silent_ends_the_answer_at_once(silent_server):
    url, arrived, release = silent_server
    backend = RemoteBackend(Connection("silent", url), "model", timeout=GATE_S * 2)
    stop, pieces = StopEvent(), []
    stopper = threading.Thread(target=lambda: arrived.wait(GATE_S) and stop.set())
    stopper.start()
    stats = backend.generate(
        [{"role": "user", "content": "Hi"}], SamplingOptions(max_tokens=8), pieces.append, stop
    )
    stopper.join()
    assert stats.stop_reason == "user" and pieces == []
    assert not release.is_set()  # ended by the stop, not by the server going on


def test_request_stop_ends_a_silent_answer_too(silent_server):
    url, arrived, release = silent_server
    backend = RemoteBackend(Connection("silent", url), "model", timeout=GATE_S * 2)
    stopper = threading.Thread(target=lambda: arrived.wait(GATE_S) and backend.request_stop())
    stopper.start()
    stats = backend.generate(
        [{"role": "user", "content": "Hi"}], SamplingOptions(max_tokens=8), print
    )
    stopper.join()
    assert stats.stop_reason == "user" and not release.is_set()
