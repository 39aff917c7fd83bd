"""An Ollama-compatible face on the same server, for the apps and editor plugins that speak
only Ollama: ``GET /api/version``, ``GET /api/tags``, ``POST /api/show``, ``POST /api/chat`` and
``POST /api/generate``, streamed as Ollama streams (one JSON object a line, the last with
``"done": true`` and the counts). Requests go through the same backend, limits and queue as
OpenAI's; errors come as Ollama's ``{"error": "..."}``.

As on the OpenAI face, what would change the answer is honoured (``options`` temperature,
top_p, top_k, min_p, repeat_penalty, seed, num_predict, stop, presence/frequency penalties;
``format`` "json" or a JSON schema) or refused with a 400 naming it (tools, a raw
``template``, ``context`` token arrays, ``suffix``, mirostat, typical_p, tfs_z). Options about
how the model runs (num_ctx, num_thread, num_gpu, keep_alive...) are Hearth's to choose and
are accepted. ``images`` (base64) go to the model as OpenAI's image parts do: answered by a
model loaded with its image projector, refused by one without.
"""

from __future__ import annotations

import base64
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.core.config.sampling import SPECS
from app.core.inference import images
from app.core.inference.types import GenerationStats, SamplingOptions
from app.core.server import schema
from app.core.server.errors import ApiError
from app.core.server.schema import GenerationRequest, StopMatcher

if TYPE_CHECKING:
    from app.core.server.answers import ClientStop

VERSION = "0.6.0"  # the Ollama API version whose endpoints above this face follows
# Options that change the answer and are not honoured: refused unless left at their default.
REFUSED_OPTIONS = {"mirostat": 0, "typical_p": 1.0, "tfs_z": 1.0}
OPTION_FIELDS = {  # Ollama's option: the OpenAI field it means
    **{name: name for name in SPECS if name != "max_tokens"},  # the sampling fields' names
    "num_predict": "max_tokens",
    "stop": "stop",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def parse_chat(body: dict[str, Any], defaults: SamplingOptions) -> GenerationRequest:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ApiError(400, "'messages' is required: an array of messages.", param="messages")
    for index, message in enumerate(messages):
        if isinstance(message, dict) and message.get("tool_calls"):
            raise ApiError(
                400,
                f"messages[{index}]: tool calls are not supported: Hearth does not parse "
                "them from the model's answer.",
                "unsupported_content",
                param="messages",
            )
    if body.get("tools"):
        raise _refused("tools", "Hearth does not parse tool calls from the model's answer")
    messages = [
        _with_images(m, m.get("images"), f"messages[{i}].images")
        if isinstance(m, dict) and m.get("images")
        else m
        for i, m in enumerate(messages)
    ]
    return _request(body, {"messages": messages}, defaults)


def _with_images(message: dict[str, Any], given: object, param: str) -> dict[str, Any]:
    """An Ollama message with ``images`` (base64, no data URL) as OpenAI's content parts:
    its text, then each image as a data URL."""
    if not isinstance(given, list) or not all(isinstance(i, str) for i in given):
        raise ApiError(400, f"'{param}' must be an array of base64 strings.", param=param)
    text = message.get("content")
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for index, encoded in enumerate(given):
        url = _data_url(encoded)
        problem = images.image_problem(url)
        if problem:  # named as Ollama's field, before the request is read as OpenAI's
            where = f"{param}[{index}]"
            raise ApiError(400, f"{where}: {problem}", "invalid_image_url", param=where)
        parts.append(images.image_part(url))
    return {k: v for k, v in message.items() if k != "images"} | {"content": parts}


# What an image's first bytes say it is (Ollama sends no type; the engine reads the bytes).
_SIGNATURES = ((b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF8", "gif"), (b"BM", "bmp"))


def _data_url(encoded: str) -> str:
    """An Ollama image (bare base64) as a data URL; bad base64 is refused when checked."""
    try:
        head = base64.b64decode(encoded[:16] + "=" * (-len(encoded[:16]) % 4))
    except ValueError:
        head = b""
    kind = next((k for magic, k in _SIGNATURES if head.startswith(magic)), "png")
    return f"data:image/{kind};base64,{encoded.strip()}"


def parse_generate(
    body: dict[str, Any], defaults: SamplingOptions
) -> tuple[GenerationRequest, bool]:
    """The request, and whether it is ``raw`` (the prompt continued as it stands, with no chat
    template: then ``prompts`` holds it; else ``messages`` hold the system and user turns)."""
    for field, why in (
        ("template", "the model's own chat template is used"),
        ("context", "send the conversation as text, or use /api/chat"),
        ("suffix", "filling in between a prompt and a suffix is not supported"),
    ):
        if body.get(field):
            raise _refused(field, why)
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise ApiError(400, "'prompt' must be text.", param="prompt")
    raw = body.get("raw") is True
    if raw:
        if body.get("images"):
            raise _refused("images", "a raw prompt has no place for them: leave out raw")
        return replace(_request(body, {"prompt": prompt}, defaults), messages=[]), True
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    if body.get("images"):
        messages = [_with_images(messages[0], body["images"], "images")]
    if isinstance(body.get("system"), str) and body["system"]:
        messages.insert(0, {"role": "system", "content": body["system"]})
    return _request(body, {"messages": messages}, defaults), False


def _request(
    body: dict[str, Any], fields: dict[str, Any], defaults: SamplingOptions
) -> GenerationRequest:
    """The OpenAI-shaped request this Ollama body means, checked as OpenAI's are."""
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "'options' must be an object.", param="options")
    for name, default in REFUSED_OPTIONS.items():
        if options.get(name) not in (None, default):
            raise _refused(f"options.{name}", "Hearth's sampler does not offer it")
    openai_body = {**fields, "stream": body.get("stream", True) is not False}
    for name, field in OPTION_FIELDS.items():
        if options.get(name) is not None:
            openai_body[field] = options[name]
    if isinstance(openai_body.get("max_tokens"), int) and openai_body["max_tokens"] <= 0:
        del openai_body["max_tokens"]  # -1 (until the model stops) and -2 (fill the context)
    fmt = body.get("format")
    if fmt == "json":
        openai_body["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, dict):
        openai_body["response_format"] = {"type": "json_schema", "json_schema": {"schema": fmt}}
    elif fmt not in (None, ""):
        raise ApiError(
            400, "'format' must be \"json\" or a JSON schema.", "invalid_value", param="format"
        )
    if "prompt" in fields:
        return schema.parse_completion(openai_body, defaults)
    return schema.parse_chat(openai_body, defaults)


def _refused(param: str, why: str) -> ApiError:
    return ApiError(400, f"'{param}' is not supported: {why}.", "unsupported_parameter", param)


def served_name(name: str, asked: object) -> bool:
    """Whether ``asked`` names the model served as ``name`` (Ollama adds a ``:latest`` tag)."""
    return isinstance(asked, str) and asked in (name, f"{name}:latest")


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def model_entry(name: str) -> dict[str, Any]:
    return {
        "name": f"{name}:latest",
        "model": f"{name}:latest",
        "modified_at": now(),
        "size": 0,
        "digest": "",
        "details": details(),
    }


def details() -> dict[str, Any]:
    return {"format": "gguf", "family": "", "families": None, "parameter_size": "",
            "quantization_level": ""}  # fmt: skip


def show(name: str, context: int, vision: bool = False) -> dict[str, Any]:
    return {
        "modelfile": "",
        "parameters": "",
        "template": "",
        "details": details(),
        "model_info": {"general.architecture": "hearth", "hearth.context_length": context},
        "capabilities": ["completion", "vision"] if vision else ["completion"],
        "modified_at": now(),
    }


def final(
    model: str, stats: GenerationStats, finish: str, started: float, chat: bool
) -> dict[str, Any]:
    """The last line of an answer: ``done``, why, and the counts and times (nanoseconds)."""
    line = {"model": model, "created_at": now(), "done": True, "done_reason": finish}
    line["message" if chat else "response"] = {"role": "assistant", "content": ""} if chat else ""
    line.update(
        total_duration=int((time.monotonic() - started) * 1e9),
        load_duration=0,
        prompt_eval_count=stats.prompt_tokens,
        prompt_eval_duration=int(stats.time_to_first_token_s * 1e9),
        eval_count=stats.tokens,
        eval_duration=int(stats.generation_s * 1e9),
    )
    return line


def piece(model: str, text: str, chat: bool) -> dict[str, Any]:
    body = {"role": "assistant", "content": text} if chat else text
    return {"model": model, "created_at": now(), "message" if chat else "response": body,
            "done": False}  # fmt: skip


class OllamaFace:
    """``RequestHandler``'s Ollama endpoints (it gives ``_body``, ``_send_json``, ``_event``,
    ``_end_stream``, ``_generate`` and ``_run``)."""

    if TYPE_CHECKING:  # what RequestHandler gives, for the type check
        server: Any
        _headers_sent: bool

        def _body(self) -> dict[str, Any]: ...
        def _send_json(self, status: int, body: dict[str, Any]) -> None: ...
        def _event(self, payload: dict[str, Any], stop: Any, ndjson: bool = False) -> None: ...
        def _end_stream(self, stop: Any, ndjson: bool = False) -> None: ...
        def _generate(
            self, request: GenerationRequest, completion: bool, answer: Any = None
        ) -> None: ...
        def _run(
            self, request: GenerationRequest, on_token: Any, stop: Any, prompt: str | None = None
        ) -> GenerationStats: ...

    def _ollama_version(self) -> None:
        self._send_json(200, {"version": VERSION})

    def _ollama_tags(self) -> None:
        name = self.server.app.backend.model_name()
        self._send_json(200, {"models": [model_entry(name)] if name else []})

    def _ollama_show(self) -> None:
        body = self._body()
        backend = self.server.app.backend
        name = backend.model_name()
        asked = body.get("model", body.get("name"))
        if not name or not served_name(name, asked):
            raise ApiError(404, f"model '{str(asked)[:100]}' not found", "model_not_found")
        context = getattr(backend, "context_size", None)
        reads_images = getattr(backend, "reads_images", None)
        self._send_json(
            200, show(name, context() if context else 0, bool(reads_images and reads_images()))
        )

    def _ollama_chat(self) -> None:
        body = self._body()
        self._ollama_check_model(body)
        request = parse_chat(body, self.server.app.defaults)
        if not request.messages:  # Ollama's way to load a model: nothing to answer
            self._ollama_loaded(True)
            return
        self._generate(request, False, lambda r, m, s: self._ollama_answer(r, m, s, True))

    def _ollama_generate(self) -> None:
        body = self._body()
        self._ollama_check_model(body)
        request, raw = parse_generate(body, self.server.app.defaults)
        if not (request.prompts[0] if raw else request.messages[-1]["content"]):
            self._ollama_loaded(False)
            return
        self._generate(request, raw, lambda r, m, s: self._ollama_answer(r, m, s, False))

    def _ollama_check_model(self, body: dict[str, Any]) -> None:
        name = self.server.app.backend.model_name()
        if name and not served_name(name, body.get("model")):
            raise ApiError(
                404,
                f"model '{str(body.get('model'))[:100]}' not found: this server has "
                f"'{name}:latest'.",
                "model_not_found",
            )

    def _ollama_loaded(self, chat: bool) -> None:
        name = self.server.app.backend.model_name()
        line = {"model": name, "created_at": now(), "done": True, "done_reason": "load"}
        line["message" if chat else "response"] = (
            {"role": "assistant", "content": ""} if chat else ""
        )
        self._send_json(200, line)

    def _ollama_answer(
        self, request: GenerationRequest, model: str, stop: ClientStop, chat: bool
    ) -> None:
        started = time.monotonic()
        matcher, parts = StopMatcher(request.stop), []
        name = f"{model}:latest"

        def on_token(text: str) -> None:
            sent = matcher.feed(text)
            if matcher.hit:
                stop.set()
            if sent and request.stream:
                self._event(piece(name, sent, chat), stop, ndjson=True)
            elif sent:
                parts.append(sent)

        prompt = request.prompts[0] if request.prompts else None
        try:
            stats = self._run(request, on_token, stop, prompt)
        except ApiError as exc:
            if not self._headers_sent:
                raise
            self._event({"error": exc.message}, stop, ndjson=True)
            self._end_stream(stop, ndjson=True)
            return
        if stop.client_gone:
            return
        tail = matcher.flush()
        finish = schema.finish_reason(stats, matcher.hit)
        last = final(name, stats, finish, started, chat)
        if request.stream:
            if tail:
                self._event(piece(name, tail, chat), stop, ndjson=True)
            self._event(last, stop, ndjson=True)
            self._end_stream(stop, ndjson=True)
            return
        text = "".join(parts) + tail
        if chat:
            last["message"]["content"] = text
        else:
            last["response"] = text
        self._send_json(200, last)


def error_body(exc: ApiError) -> dict[str, Any]:
    """Ollama's error shape."""
    return {"error": exc.message}
