"""llama-cpp-python's own OpenAI-compatible server (``llama_cpp.server``, a third-party
implementation) running a real GGUF in a subprocess on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REMOTE_KEY = "hearth-remote-7f3a9c21"  # not shaped like a known key: only keeping it out works


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen, api_key: str = "", tries: int = 240) -> None:
    """Poll ``GET /v1/models`` (at most ``tries`` times, 0.25 s apart) until it answers."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    for _ in range(tries):
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/models", headers=headers)
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError("the server did not become ready")


@contextlib.contextmanager
def llama_server(model: Path, log_file: Path, api_key: str = "") -> Iterator[str]:
    """Run the server on a free port; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    port = free_port()
    extra = ["--api_key", api_key] if api_key else []
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "1",
                "--n_threads_batch",
                "1",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, process, api_key)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
