"""``hearth bench serve``: Hearth's API server against llama-cpp-python's own, side by side.

Both serve the same model with one llama.cpp thread, each in a process of its own (Hearth's
model host; ``python -m llama_cpp.server``). For each crowd size, that many streaming clients
ask at once, each to repeat its own random code, through raw HTTP on 127.0.0.1; then the same
crowd asks the other server. Per crowd:

- ``completed_app`` / ``completed_peer``: clients whose stream ended with ``[DONE]``;
- ``mixed_up``: answers holding another client's code (either side: the bar is 0);
- ``tok_s_app`` / ``tok_s_peer``: streamed pieces of text over the crowd's wall time (each
  server streams a piece per token for this ASCII text, and both are counted alike);
- ``ttft_p95_s_app`` / ``ttft_p95_s_peer``: 95th percentile of the time to the first piece.

And once: ``models_ms_app`` / ``models_ms_peer``, the median ``GET /v1/models`` on a reused
(keep-alive) connection. Bar: every client answered, none mixed up, tok/s ratio at least 0.95,
``models_ms_app`` within 2x the peer's.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.queue import GenerationQueue
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.server.server import ApiServer

N_CTX = 2048
MAX_TOKENS = 32
CROWDS = (16, 64)


def run_serve_benchmark(
    model: Path, crowds: tuple[int, ...] = CROWDS, max_tokens: int = MAX_TOKENS
) -> dict:
    with _hearth(model) as app_port, _peer(model) as peer_port:
        runs = []
        for clients in crowds:
            codes = random.Random(clients).sample(range(100_000, 999_999), clients)
            app = _crowd(app_port, codes, max_tokens)
            peer = _crowd(peer_port, codes, max_tokens)
            runs.append(
                {
                    "clients": clients,
                    "completed_app": app["completed"],
                    "completed_peer": peer["completed"],
                    "mixed_up": app["mixed_up"] + peer["mixed_up"],
                    "tok_s_app": app["tok_s"],
                    "tok_s_peer": peer["tok_s"],
                    "tok_s_ratio": app["tok_s"] / peer["tok_s"] if peer["tok_s"] else 0.0,
                    "ttft_p95_s_app": app["ttft_p95_s"],
                    "ttft_p95_s_peer": peer["ttft_p95_s"],
                }
            )
        return {
            "runs": runs,
            "models_ms_app": _models_ms(app_port),
            "models_ms_peer": _models_ms(peer_port),
        }


def format_serve_result(result: dict) -> str:
    lines = [
        f"GET /v1/models on a kept-alive connection: {result['models_ms_app']:.2f} ms (Hearth), "
        f"{result['models_ms_peer']:.2f} ms (llama-cpp-python's server)"
    ]
    for run in result["runs"]:
        lines.append(
            f"{run['clients']} clients at once: answered {run['completed_app']} (Hearth), "
            f"{run['completed_peer']} (peer); mixed up {run['mixed_up']}; "
            f"{run['tok_s_app']:.1f} vs {run['tok_s_peer']:.1f} tok/s "
            f"(ratio {run['tok_s_ratio']:.2f}); first token p95 {run['ttft_p95_s_app']:.1f} s "
            f"vs {run['ttft_p95_s_peer']:.1f} s"
        )
    return "\n".join(lines)


def _crowd(port: int, codes: list[int], max_tokens: int) -> dict:
    """All clients at once, one thread each; what each got back."""
    results: dict[int, tuple[bool, str, float | None, int]] = {}
    start = threading.Barrier(len(codes))

    def client(code: int) -> None:
        start.wait()
        results[code] = _ask(port, code, max_tokens)

    threads = [threading.Thread(target=client, args=(code,)) for code in codes]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    others = {str(code) for code in codes}
    mixed = sum(
        any(other in text for other in others - {str(code)})
        for code, (_, text, _, _) in results.items()
    )
    ttfts = sorted(t for _, _, t, _ in results.values() if t is not None)
    pieces = sum(n for _, _, _, n in results.values())
    return {
        "completed": sum(done for done, _, _, _ in results.values()),
        "mixed_up": mixed,
        "tok_s": pieces / wall if wall else 0.0,
        "ttft_p95_s": ttfts[min(len(ttfts) - 1, int(0.95 * len(ttfts)))] if ttfts else 0.0,
    }


def _ask(port: int, code: int, max_tokens: int) -> tuple[bool, str, float | None, int]:
    """One streamed chat: (ended with [DONE], the text, seconds to its first piece, pieces)."""
    body = json.dumps(
        {
            "model": "bench",
            "messages": [{"role": "user", "content": f"Repeat this code exactly: {code}"}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
        }
    )
    sent = time.perf_counter()
    first, parts, done = None, [], False
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            return False, "", None, 0
        for raw in response:
            line = raw.strip()
            if line == b"data: [DONE]":
                done = True
                break
            if not line.startswith(b"data: "):
                continue
            event = json.loads(line[6:])
            choices = event.get("choices") or [{}]
            piece = (choices[0].get("delta") or {}).get("content")
            if piece:
                first = first or time.perf_counter() - sent
                parts.append(piece)
        conn.close()
    except (OSError, http.client.HTTPException, ValueError):
        pass
    return done, "".join(parts), first, len(parts)


def _models_ms(port: int, rounds: int = 20) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for _ in range(rounds + 1):
            started = time.perf_counter()
            conn.request("GET", "/v1/models")
            conn.getresponse().read()
            times.append((time.perf_counter() - started) * 1000)
    finally:
        conn.close()
    return statistics.median(times[1:])  # the first opens the connection


@contextlib.contextmanager
def _hearth(model: Path) -> Iterator[int]:
    """Hearth's server as ``hearth serve`` runs it (the model in its host process)."""
    engine = HostedEngine()
    engine.load(model, LoadOptions(n_ctx=N_CTX, n_threads=1))
    queue = GenerationQueue(engine)
    server = ApiServer(queue, port=0, defaults=SamplingOptions(temperature=0.0))
    server.start()
    try:
        yield server.port
    finally:
        server.stop()
        queue.close()
        engine.unload()


@contextlib.contextmanager
def _peer(model: Path) -> Iterator[int]:
    """llama-cpp-python's own server on the same model and thread count."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
         "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", "1",
         "--n_threads_batch", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(480):
            if process.poll() is not None:
                raise RuntimeError("llama-cpp-python's server did not start")
            try:
                _models_ms(port, rounds=1)
                break
            except OSError:
                time.sleep(0.25)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
