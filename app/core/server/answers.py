"""Answering a chat or completion request: through the server's backend, whole or streamed
(SSE), stopped when its client goes away. The generation half of ``RequestHandler``
(app.core.server.handler), which gives the reading and writing.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.core.common.errors import (
    ContextFullError,
    HearthError,
    RemoteError,
    UnreadableImage,
    UnsupportedRequest,
)
from app.core.inference import images
from app.core.inference.types import GenerationStats
from app.core.server import embeddings, limits, schema
from app.core.server.errors import ApiError
from app.core.server.schema import GenerationRequest, StopMatcher

log = logging.getLogger("hearth.server")


def peer_closed(sock: socket.socket) -> bool:
    """True when the client has closed its end (readable, and reading would give nothing)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class ClientStop(threading.Event):
    """A generation's stop event, also set when its client is found to have gone away."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.client_gone = False

    def next_prompt(self) -> None:
        """Ready for the next prompt of the same request (a stop string only ends its own)."""
        if not self.client_gone:
            self.clear()

    def is_set(self) -> bool:
        if super().is_set():
            return True
        if peer_closed(self._sock):
            self.gone()
            return True
        return False

    def gone(self) -> None:
        self.client_gone = True
        self.set()


class Answering:
    """``RequestHandler``'s generation methods (it gives ``server``, ``connection``,
    ``client_address``, ``_event``, ``_end_stream``, ``_send_json`` and the request state)."""

    if TYPE_CHECKING:  # what RequestHandler gives, for the type check
        server: Any
        connection: socket.socket
        client_address: Any
        close_connection: bool
        _headers_sent: bool
        _status: int
        _tokens: int

        def _send_json(self, status: int, body: dict[str, Any]) -> None: ...
        def _body(self) -> dict[str, Any]: ...
        def _event(
            self, payload: dict[str, Any], stop: ClientStop, ndjson: bool = False
        ) -> None: ...
        def _end_stream(self, stop: ClientStop, ndjson: bool = False) -> None: ...

    def _embeddings(self) -> None:
        """``POST /v1/embeddings``, through the backend's ``embed`` (``hearth serve``'s queue;
        the GUI's server has none)."""
        request = embeddings.parse(self._body())
        app = self.server.app
        model = self._loaded_model()
        embed = getattr(app.backend, "embed", None)
        if embed is None:
            raise ApiError(
                501,
                "Embeddings are served by 'hearth serve', not by the studio's API server.",
                "unsupported",
            )
        client = self._enter_waiting()
        try:
            vectors, tokens = embed(request.texts)
        except UnsupportedRequest as exc:
            raise ApiError(400, str(exc), "context_length_exceeded", param="input") from exc
        except HearthError as exc:
            raise ApiError(500, str(exc), "embedding_failed", "server_error") from exc
        finally:
            app.leave_waiting(client)
        self._send_json(200, embeddings.response(model, vectors, tokens, request.base64))

    def _loaded_model(self) -> str:
        model: str = self.server.app.backend.model_name()
        if not model:
            raise ApiError(
                503,
                "No model is loaded in Hearth: load one, then try again.",
                "model_not_loaded",
                "server_error",
            )
        return model

    def _enter_waiting(self) -> str:
        """Count this request as waiting for the model (429 past the address's limit)."""
        app = self.server.app
        client: str = self.client_address[0]
        if not app.enter_waiting(client):
            log.info(
                "%s: %d requests already wait for the model; one more refused",
                client,
                app.max_waiting,
            )
            raise ApiError(
                429,
                f"This address already has {app.max_waiting} requests waiting for the model, "
                "the most one client may have: wait for some to be answered, then try again.",
                "too_many_requests",
            )
        return client

    def _generate(
        self,
        request: GenerationRequest,
        completion: bool,
        answer: Callable[[GenerationRequest, str, ClientStop], None] | None = None,
    ) -> None:
        """Answer ``request`` in OpenAI's shape, or with ``answer(request, model, stop)`` (the
        Ollama face's), once the model is there and the request may wait for it."""
        app = self.server.app
        model = self._loaded_model()
        context_size = getattr(app.backend, "context_size", None)
        limits.check_size(request, context_size() if context_size else 0)
        self._check_images(request, model)
        client = self._enter_waiting()
        stop = ClientStop(self.connection)
        app.track_stop(stop, True)
        try:
            rid = schema.new_id("cmpl" if completion else "chatcmpl")
            if answer is not None:
                answer(request, model, stop)
            elif request.stream:
                self._stream(request, model, completion, rid, stop)
            else:
                self._answer(request, model, completion, rid, stop)
        finally:
            app.leave_waiting(client)
            app.track_stop(stop, False)
            if stop.client_gone:
                self._status, self.close_connection = 499, True

    def _check_images(self, request: GenerationRequest, model: str) -> None:
        """Refuse images before the request waits for a model loaded without its projector
        (a backend that cannot tell, such as a remote server's, passes them on)."""
        reads_images = getattr(self.server.app.backend, "reads_images", None)
        if reads_images is None or reads_images() or not images.has_images(request.messages):
            return
        raise ApiError(
            400,
            f"This model reads text only: {model} was loaded without its image projector "
            "(the repo's mmproj file), so it cannot take images. Serve it with one: "
            "hearth serve MODEL --mmproj FILE.",
            "image_input_unsupported",
            param="messages",
        )

    def _answer(
        self, request: GenerationRequest, model: str, completion: bool, rid: str, stop: ClientStop
    ) -> None:
        choices: list[tuple[str, str]] = []
        runs: list[GenerationStats] = []
        for prompt in request.prompts or (None,):
            matcher, parts = StopMatcher(request.stop), list[str]()

            def on_token(
                text: str, matcher: StopMatcher = matcher, parts: list[str] = parts
            ) -> None:
                parts.append(matcher.feed(text))
                if matcher.hit:
                    stop.set()

            stop.next_prompt()
            runs.append(self._run(request, on_token, stop, prompt))
            if stop.client_gone:
                return
            choices.append(
                (
                    ((prompt or "") if request.echo else "") + "".join(parts) + matcher.flush(),
                    schema.finish_reason(runs[-1], matcher.hit),
                )
            )
        stats = schema.total_stats(runs)
        if completion:
            self._send_json(200, schema.completion_response(rid, model, choices, stats))
        else:
            self._send_json(200, schema.chat_response(rid, model, *choices[0], stats))

    def _stream(
        self, request: GenerationRequest, model: str, completion: bool, rid: str, stop: ClientStop
    ) -> None:
        def emit(payload: dict[str, Any]) -> None:
            if not self._headers_sent and not completion:  # a chat stream opens with the role
                self._event(schema.chunk(rid, model, False, role=True), stop)
            self._event(payload, stop)

        runs = []
        for index, prompt in enumerate(request.prompts or (None,)):
            matcher = StopMatcher(request.stop)

            def on_token(text: str, matcher: StopMatcher = matcher, index: int = index) -> None:
                piece = matcher.feed(text)
                if matcher.hit:
                    stop.set()
                if piece:
                    emit(schema.chunk(rid, model, completion, text=piece, index=index))

            if request.echo:
                emit(schema.chunk(rid, model, completion, text=prompt, index=index))
            stop.next_prompt()
            try:
                runs.append(self._run(request, on_token, stop, prompt))
            except ApiError as exc:
                if not self._headers_sent:
                    raise
                self._event(exc.body(), stop)
                self._end_stream(stop)
                return
            if stop.client_gone:
                return
            if tail := matcher.flush():
                emit(schema.chunk(rid, model, completion, text=tail, index=index))
            finish = schema.finish_reason(runs[-1], matcher.hit)
            emit(schema.chunk(rid, model, completion, finish=finish, index=index))
        if request.include_usage:
            self._event(schema.usage_chunk(rid, model, completion, schema.total_stats(runs)), stop)
        self._end_stream(stop)

    def _run(
        self,
        request: GenerationRequest,
        on_token: Callable[[str], None],
        stop: ClientStop,
        prompt: str | None = None,
    ) -> GenerationStats:
        """Generate through the backend (a raw completion of ``prompt`` when given); Hearth's
        errors become API errors."""
        backend = self.server.app.backend
        try:
            stats: GenerationStats
            if prompt is None:
                stats = backend.generate(request.messages, request.sampling, on_token, stop)
            else:
                stats = backend.complete(prompt, request.sampling, on_token, stop)
        except ContextFullError as exc:  # in OpenAI's words, which clients read the numbers from
            raise ApiError(
                400,
                f"This model's maximum context length is {exc.limit} tokens. "
                f"However, you requested {exc.used} tokens. "
                + (
                    "Shorten the messages or start a new chat."
                    if prompt is None
                    else "Shorten the prompt, or ask for fewer tokens (max_tokens)."
                ),
                "context_length_exceeded",
                param="messages" if prompt is None else "prompt",
            ) from exc
        except UnreadableImage as exc:  # its header passed the door, its data is damaged
            raise ApiError(400, str(exc), "invalid_image_url", param="messages") from exc
        except UnsupportedRequest as exc:  # asked of the model what it cannot do as asked
            raise ApiError(400, str(exc), "unsupported_parameter") from exc
        except RemoteError as exc:
            raise ApiError(502, str(exc), "upstream_error", "server_error") from exc
        except HearthError as exc:
            raise ApiError(500, str(exc), "generation_failed", "server_error") from exc
        self._tokens += stats.tokens
        return stats
