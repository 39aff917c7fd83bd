"""``HostedEngine``: ``Engine``'s methods, answered by a model host process.

Loading starts a fresh host (the one before is closed, so all its memory returns to the
system); cancelling a load kills it. Every call blocks its caller's thread (a worker thread,
never the GUI's) until the host answers, and watches the host while it waits:

- the host died (llama.cpp aborted, a crash, the system killed it): ``ModelCrashed``, whose
  message names the model and quotes llama.cpp's last line; the partial answer already went
  to ``on_token``; the next ``load`` starts a new host;
- the host stopped answering (no ping for ``hang_s``), or ignored Stop for ``stop_grace_s``:
  it is killed, and ``ModelCrashed`` says so.

One thread uses a ``HostedEngine`` at a time, as with ``Engine``; ``request_stop`` may come from
any thread.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.core.common import errors
from app.core.common.errors import ContextFullError, LoadCancelled, ModelCrashed
from app.core.inference import images
from app.core.inference.host.process import HostProcess
from app.core.inference.types import (
    GenerationStats,
    LoadedModel,
    LoadOptions,
    SamplingOptions,
)

log = logging.getLogger("hearth.host")

READING_IMAGES = "reading images"  # what the host does with a chat holding images
HANG_S = 30.0  # no sign of life for this long while a request waits: the host is hung
STOP_GRACE_S = 10.0  # Stop not honoured within this: the host is killed
POLL_S = 0.02  # how often a waiting caller looks at its stop and cancel events

_ids = itertools.count(1)


class HostedEngine:
    def __init__(
        self,
        hang_s: float = HANG_S,
        stop_grace_s: float = STOP_GRACE_S,
        host_args: list[str] | None = None,
    ) -> None:
        self.hang_s = hang_s
        self.stop_grace_s = stop_grace_s
        self._host_args = host_args  # tests: another command for the host
        self._host: HostProcess | None = None
        self._loaded: LoadedModel | None = None
        self._name = ""  # the model's file name, for messages
        self._projector = ""  # the image projector's file name, while the host reads it
        # The loaded projector's file name: a chat holding images is the projector's work, and
        # a damaged one that loaded may still crash llama.cpp on its first image (a forged
        # layer_norm_epsilon of NaN, measured: "GGML_ASSERT(eps >= 0.0f)" while answering).
        self._vision = ""
        self._lock = threading.Lock()
        self._current = 0  # the request running now (0: none)

    @staticmethod
    def default_threads() -> int:
        from app.core.inference.engine import Engine

        return Engine.default_threads()

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def host_pid(self) -> int | None:
        """The host process's id while one runs (tests and the benchmark pause or kill it)."""
        host = self._host
        return host.pid if host is not None and host.alive() else None

    # -- loading -------------------------------------------------------------------------------
    def load(
        self,
        path: Path,
        options: LoadOptions = LoadOptions(),
        progress: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> LoadedModel:
        path = Path(path)
        self.unload()
        self._name = path.name
        self._projector = ""  # set once the host starts reading the image projector
        self._vision = ""
        host = HostProcess(self._host_args)
        with self._lock:
            self._host = host
        started = time.perf_counter()

        def on_event(event: dict[str, Any]) -> None:
            if event["ev"] == "progress" and progress is not None:
                progress(float(event["value"]))
            elif event["ev"] == "stage" and event.get("value") == "projector":
                self._projector = Path(options.mmproj_path).name

        try:
            reply = self._request(
                {"op": "load", "path": str(path), "options": asdict(options)},
                "loaded",
                on_event,
                cancel=cancel,
                while_doing="loading",
            )
        except LoadCancelled:
            self._drop_host()
            raise
        except errors.HearthError:
            self._drop_host()
            raise
        self._projector = ""
        self._vision = Path(options.mmproj_path).name if options.mmproj_path else ""
        model = dict(reply["model"])
        model["path"] = Path(model["path"])
        # The time a user waits includes starting the host.
        model["load_seconds"] = time.perf_counter() - started
        self._loaded = LoadedModel(**model)
        return self._loaded

    def unload(self) -> None:
        self._loaded = None
        self._drop_host(graceful=True)

    def _drop_host(self, graceful: bool = False) -> None:
        with self._lock:
            host, self._host = self._host, None
        if host is None:
            return
        if graceful:
            host.close()
        else:
            host.kill()
            host.close(grace_s=0)

    # -- answering -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop the request running now (any thread)."""
        with self._lock:
            host, current = self._host, self._current
        if host is not None and current:
            host.send({"op": "stop", "id": current})

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Embeddings of ``texts`` made in the model's process, and the tokens they took."""
        value = self._request(
            {"op": "embed", "texts": list(texts)}, "result", while_doing="embedding texts"
        )["value"]
        return value["vectors"], int(value["tokens"])

    def count_tokens(self, messages: Sequence[dict[str, Any]]) -> int:
        return int(
            self._request(
                {"op": "count", "messages": list(messages)},
                "result",
                while_doing=self._doing(messages, "counting tokens"),
            )["value"]
        )

    def fit_messages(
        self, messages: Sequence[dict[str, Any]], reserve: int, stop: threading.Event | None = None
    ) -> list[dict[str, Any]]:
        return list(
            self._request(
                {"op": "fit", "messages": list(messages), "reserve": reserve},
                "result",
                stop=stop,
                while_doing=self._doing(messages, "preparing the chat"),
            )["value"]
        )

    def chat(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop: threading.Event | None = None,
        reserve: int | None = None,
    ) -> GenerationStats:
        """Stream an answer; with ``reserve``, the oldest turns are dropped first (in the host,
        where a Stop can end it) until the chat and ``reserve`` tokens fit."""
        return self._generate(
            {
                "op": "chat",
                "messages": list(messages),
                "reserve": reserve,
                "sampling": asdict(sampling),
            },
            on_token,
            stop,
            self._doing(messages, "answering"),
        )

    def complete(
        self,
        prompt: str,
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop: threading.Event | None = None,
    ) -> GenerationStats:
        return self._generate(
            {"op": "complete", "prompt": prompt, "sampling": asdict(sampling)}, on_token, stop
        )

    def _doing(self, messages: Sequence[dict[str, Any]], doing: str) -> str:
        """What the host is doing with ``messages``, in a crash's sentence: with images, the
        projector reads them (``_message`` then names it)."""
        return READING_IMAGES if self._vision and images.has_images(messages) else doing

    def _generate(
        self,
        request: dict[str, Any],
        on_token: Callable[[str], None],
        stop: threading.Event | None,
        doing: str = "answering",
    ) -> GenerationStats:
        def on_event(event: dict[str, Any]) -> None:
            if event["ev"] == "token":
                on_token(event["text"])

        reply = self._request(request, "done", on_event, stop=stop, while_doing=doing)
        return GenerationStats(**reply["stats"])

    # -- one request ---------------------------------------------------------------------------
    def _request(
        self,
        request: dict[str, Any],
        answer: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        *,
        stop: threading.Event | None = None,
        cancel: threading.Event | None = None,
        while_doing: str,
    ) -> dict[str, Any]:
        host = self._host
        if host is None:
            raise errors.GenerationError("No model is loaded.")
        request_id = next(_ids)
        with self._lock:
            self._current = request_id
        try:
            if not host.send({**request, "id": request_id}):
                return self._died(host, while_doing)
            return self._wait(host, request_id, answer, on_event, stop, cancel, while_doing)
        finally:
            with self._lock:
                self._current = 0

    def _wait(
        self,
        host: HostProcess,
        request_id: int,
        answer: str,
        on_event: Callable[[dict[str, Any]], None] | None,
        stop: threading.Event | None,
        cancel: threading.Event | None,
        while_doing: str,
    ) -> dict[str, Any]:
        stop_sent_at = None
        while True:
            event = host.get(POLL_S)
            if event is not None:
                kind = event.get("ev")
                if kind == "exit":
                    if cancel is not None and cancel.is_set():
                        raise LoadCancelled(f"Loading {self._name} was cancelled.")
                    return self._died(host, while_doing)
                if event.get("id") == request_id:
                    if kind == answer:
                        return event
                    if kind == "error":
                        raise _error_from(event)
                    if on_event is not None:
                        on_event(event)
                # else: a late word of an earlier request
            now = time.monotonic()
            if cancel is not None and cancel.is_set():
                host.kill()  # the quickest way out of a load, and it frees everything
                raise LoadCancelled(f"Loading {self._name} was cancelled.")
            if stop is not None and stop.is_set() and stop_sent_at is None:
                stop_sent_at = now
                host.send({"op": "stop", "id": request_id})
            if stop_sent_at is not None and now - stop_sent_at > self.stop_grace_s:
                log.info(
                    "Model host %d ignored Stop for %.0f s: killed", host.pid, self.stop_grace_s
                )
                return self._hung(host, while_doing, "did not stop when asked")
            if now - host.last_heard > self.hang_s:
                log.info("Model host %d silent for %.0f s: killed", host.pid, self.hang_s)
                return self._hung(host, while_doing, "stopped answering")

    def _hung(self, host: HostProcess, while_doing: str, how: str) -> dict[str, Any]:
        host.kill()
        self._forget(host)
        raise ModelCrashed(self._message(while_doing, f"it {how} and was closed"))

    def _died(self, host: HostProcess, while_doing: str) -> dict[str, Any]:
        cause, line = host.cause(), host.last_line()
        log.info("Model host %d for %s: %s: %s", host.pid, self._name, cause, line)
        self._forget(host)
        raise ModelCrashed(self._message(while_doing, cause, line))

    def _message(self, while_doing: str, how: str, line: str = "") -> str:
        """One sentence for the user: which model, what happened, llama.cpp's own words, what
        to do."""
        name = self._name or "The model"
        said = f" (\u201c{line}\u201d)" if line else ""
        if while_doing == "loading" and self._projector:
            return (
                f"The image projector {self._projector} could not be loaded with {name}: "
                f"{how}{said}. It may be damaged or made for another model: download it "
                "again, or load the model without it."
            )
        if while_doing == READING_IMAGES:
            return (
                f"The image projector {self._vision} stopped llama.cpp while it read this "
                f"chat's images with {name}: {how}{said}. It may be damaged or made for another "
                "model: download it again, or load the model without it."
            )
        if while_doing == "loading":
            return (
                f"{name} could not be loaded: {how}{said}. The file may be damaged, or this "
                "llama.cpp build cannot run it: try another quant or model."
            )
        return (
            f"{name} stopped while {while_doing}: {how}{said}. What it wrote is kept; "
            "load the model again, or choose another one."
        )

    def _forget(self, host: HostProcess) -> None:
        with self._lock:
            if self._host is host:
                self._host = None
        self._loaded = None
        host.close(grace_s=0)


def _error_from(event: dict[str, Any]) -> errors.HearthError:
    """The host's error, as the same typed error it was there."""
    kind, message = event.get("kind", ""), str(event.get("message", ""))
    if kind == "ContextFullError":
        return ContextFullError(int(event.get("used", 0)), int(event.get("limit", 0)))
    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.HearthError)):
        cls = errors.GenerationError
    try:
        return cls(message)
    except TypeError:
        return errors.GenerationError(message)
