"""The host process's side (``hearth --model-host``): one ``Engine`` answering its parent.

Requests arrive as frames on stdin and run one at a time on the main thread; a reader thread
takes ``stop`` at once (it sets that request's own stop event, which the engine checks while it
prepares the prompt, inside llama.cpp's prompt decode and between tokens) and queues the rest.
A ping thread says "alive" twice a second, so the parent can tell a host that hangs with the
interpreter lock held from one that is busy in llama.cpp. When stdin ends (the parent is gone)
the host exits.

Before anything else, file descriptor 1 is kept for the frames and pointed at stderr, so that
nothing llama.cpp or a library prints can corrupt the protocol; stderr is the parent's record of
llama.cpp's last words.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from app.core.inference.host import wire

log = logging.getLogger("hearth.host")

PING_S = 0.5
_PROGRESS_STEP = 0.005  # llama.cpp reports load progress far more often than anyone sees


def main(argv: list[str]) -> int:
    outbox = take_stdout()
    quiet_process()
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(name)s %(levelname)s: %(message)s"
    )
    return EngineHost(sys.stdin.buffer, outbox).run()


def take_stdout() -> BinaryIO:
    """A private copy of stdout for the frames; fd 1 (and ``sys.stdout``) now go to stderr."""
    sys.stdout.flush()
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return frames


def quiet_process() -> None:
    """Ctrl-C in the terminal is the parent's to handle; a crash leaves no core file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # Windows has no core files to avoid
        pass


class EngineHost:
    def __init__(self, inbox: BinaryIO, outbox: BinaryIO) -> None:
        from app.core.inference.engine import Engine

        self._engine = Engine()
        self._inbox = inbox
        self._outbox = outbox
        self._out_lock = threading.Lock()
        self._requests: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._current: tuple[int, threading.Event] | None = None
        self._stopped: set[int] = set()  # stops that came before their request started
        self._done = threading.Event()

    def run(self) -> int:
        threading.Thread(target=self._read, daemon=True, name="host-reader").start()
        threading.Thread(target=self._ping, daemon=True, name="host-ping").start()
        try:
            while (request := self._requests.get()) is not None:
                self._handle(request)
        finally:
            self._done.set()
            self._engine.unload()
        return 0

    def send(self, message: dict[str, Any]) -> None:
        with self._out_lock:
            try:
                wire.write(self._outbox, message)
            except (OSError, ValueError):  # the parent is gone: stdin's end will stop us
                pass

    def _read(self) -> None:
        while True:
            try:
                message = wire.read(self._inbox)
            except (OSError, wire.WireError):
                message = None
            if message is None or message.get("op") == "exit":
                self._stop_all()
                self._requests.put(None)
                return
            if message.get("op") == "stop":
                self._stop(int(message.get("id", 0)))
            else:
                self._requests.put(message)

    def _ping(self) -> None:
        while not self._done.wait(PING_S):
            self.send({"ev": "ping"})

    def _stop(self, request_id: int) -> None:
        with self._lock:
            if self._current is not None and self._current[0] == request_id:
                self._current[1].set()
            else:
                self._stopped.add(request_id)

    def _stop_all(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current[1].set()

    def _handle(self, request: dict[str, Any]) -> None:
        from app.core.common.errors import ContextFullError, HearthError

        request_id = int(request.get("id", 0))
        stop = threading.Event()
        with self._lock:
            if request_id in self._stopped:
                self._stopped.discard(request_id)
                stop.set()
            self._current = (request_id, stop)
        try:
            self._answer(request, request_id, stop)
        except ContextFullError as exc:
            self.send(
                {
                    "ev": "error",
                    "id": request_id,
                    "kind": "ContextFullError",
                    "message": str(exc),
                    "used": exc.used,
                    "limit": exc.limit,
                }
            )
        except HearthError as exc:
            self.send(
                {"ev": "error", "id": request_id, "kind": type(exc).__name__, "message": str(exc)}
            )
        except Exception as exc:  # noqa: BLE001 - the parent must hear of every failure
            log.exception("Request %s failed", request.get("op"))
            self.send(
                {
                    "ev": "error",
                    "id": request_id,
                    "kind": "GenerationError",
                    "message": f"The model failed: {exc}",
                }
            )
        finally:
            with self._lock:
                self._current = None

    def _answer(self, request: dict[str, Any], request_id: int, stop: threading.Event) -> None:
        from app.core.inference.types import LoadOptions, SamplingOptions

        op = request.get("op")
        engine = self._engine
        if op == "load":
            last = [-1.0]

            def progress(value: float) -> None:
                if value - last[0] >= _PROGRESS_STEP or value >= 1.0:
                    last[0] = value
                    self.send({"ev": "progress", "id": request_id, "value": value})

            def stage(name: str) -> None:
                self.send({"ev": "stage", "id": request_id, "value": name})

            model = engine.load(
                Path(request["path"]),
                LoadOptions(**request["options"]),
                progress=progress,
                stage=stage,
            )
            data = asdict(model)
            data["path"] = str(model.path)
            self.send({"ev": "loaded", "id": request_id, "model": data})
        elif op in ("chat", "complete"):
            sampling = SamplingOptions(**request["sampling"])

            def on_token(text: str) -> None:
                self.send({"ev": "token", "id": request_id, "text": text})

            if op == "chat":
                messages = request["messages"]
                if request.get("reserve") is not None:
                    messages = engine.fit_messages(messages, int(request["reserve"]), stop)
                stats = engine.chat(messages, sampling, on_token, stop)
            else:
                stats = engine.complete(request["prompt"], sampling, on_token, stop)
            self.send({"ev": "done", "id": request_id, "stats": asdict(stats)})
        elif op == "embed":
            vectors, tokens = engine.embed(request["texts"])
            self.send(
                {"ev": "result", "id": request_id, "value": {"vectors": vectors, "tokens": tokens}}
            )
        elif op == "count":
            self.send(
                {
                    "ev": "result",
                    "id": request_id,
                    "value": engine.count_tokens(request["messages"]),
                }
            )
        elif op == "fit":
            self.send(
                {
                    "ev": "result",
                    "id": request_id,
                    "value": engine.fit_messages(
                        request["messages"], int(request["reserve"]), stop
                    ),
                }
            )
        else:
            self.send(
                {
                    "ev": "error",
                    "id": request_id,
                    "kind": "GenerationError",
                    "message": f"The model host does not know '{op}'.",
                }
            )
