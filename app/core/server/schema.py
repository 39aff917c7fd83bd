"""The OpenAI API's shapes: request validation and response bodies for Hearth's server.

Requests are checked field by field; anything wrong raises ``ApiError`` with an HTTP status and
an OpenAI-style body ``{"error": {"message", "type", "code", "param"}}``. Fields that change the
answer are honoured or refused (app.core.server.options); those that change nothing in it
(``user``, ``store``...) are accepted.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from app.core.common.errors import UnsupportedRequest
from app.core.config.limits import InvalidValue
from app.core.config.sampling import SPECS, Spec
from app.core.inference import images
from app.core.inference.types import GenerationStats, SamplingOptions
from app.core.server.errors import ApiError
from app.core.server.options import output_fields

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_STOP_STRINGS = 4
MAX_PROMPTS = 8  # prompts in one completion request: each is answered in turn


@dataclass(frozen=True)
class GenerationRequest:
    """A chat or completion request, checked and turned into what a ``Backend`` takes."""

    messages: list[dict[str, Any]]
    sampling: SamplingOptions
    stream: bool = False
    include_usage: bool = False
    stop: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()  # a raw completion of each prompt (then ``messages`` is empty)
    echo: bool = False  # a completion's text begins with its prompt


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"The request body is not valid JSON ({exc}).", "invalid_json") from exc
    except RecursionError as exc:
        raise ApiError(400, "The request body is nested too deeply.", "invalid_json") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", "invalid_json")
    return body


def parse_chat(body: dict[str, Any], defaults: SamplingOptions) -> GenerationRequest:
    """Check a ``POST /v1/chat/completions`` body."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _missing("messages", "a non-empty array of messages")
    return _request(body, [_message(m, i) for i, m in enumerate(messages)], defaults)


def parse_completion(body: dict[str, Any], defaults: SamplingOptions) -> GenerationRequest:
    """Check a ``POST /v1/completions`` body: the model continues each prompt as it stands,
    with no chat template (a string, or an array of strings answered as choices 0, 1...)."""
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts:
        raise _missing("prompt", "a string or an array of strings")
    if not all(isinstance(p, str) for p in prompts):
        raise ApiError(
            400,
            "'prompt' must be text (a string or an array of strings): Hearth "
            "does not take token arrays.",
            "invalid_type",
            param="prompt",
        )
    if len(prompts) > MAX_PROMPTS:
        raise ApiError(
            400,
            f"At most {MAX_PROMPTS} prompts are answered in one request; this "
            f"one has {len(prompts)}. Send the rest in further requests.",
            "invalid_value",
            param="prompt",
        )
    if body.get("suffix"):
        raise ApiError(
            400,
            "'suffix' (filling in between a prompt and a suffix) is not "
            "supported: send the text before the gap as the prompt.",
            "unsupported",
            param="suffix",
        )
    echo = body.get("echo", False)
    if not isinstance(echo, bool) and echo is not None:
        raise _wrong("echo", "true or false")
    return replace(_request(body, [], defaults), prompts=tuple(prompts), echo=bool(echo))


def _request(
    body: dict[str, Any], messages: list[dict[str, Any]], defaults: SamplingOptions
) -> GenerationRequest:
    n = body.get("n", 1)
    if n is not None and n != 1:
        raise ApiError(
            400, "Only n=1 is supported: one answer per request.", "unsupported", param="n"
        )
    # The newer name wins, but only when given: clients send it as null beside max_tokens.
    given = dict(body)
    if body.get("max_completion_tokens") is not None:
        given["max_tokens"] = body["max_completion_tokens"]
    # One request field per sampling field, in the range its declaration gives. Any: each
    # field is checked for its own type; replace() takes them by name.
    values: dict[str, Any] = {
        name: _sampling_value(given, name, spec) for name, spec in SPECS.items()
    }
    values.update(output_fields(body))
    try:
        sampling = replace(defaults, **{k: v for k, v in values.items() if v is not None})
    except InvalidValue as exc:  # inside the API's range, not the engine's (a penalty of 0)
        raise ApiError(400, str(exc), "invalid_value") from exc
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise _wrong("stream", "true or false")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _wrong("stream_options", "an object")
    return GenerationRequest(
        messages=messages,
        sampling=sampling,
        stream=bool(stream),
        include_usage=options.get("include_usage") is True,
        stop=_stop_strings(body.get("stop")),
    )


def _message(message: object, index: int) -> dict[str, Any]:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise _wrong(param, "an object with 'role' and 'content'")
    role = message.get("role")
    if role not in ROLES:
        raise ApiError(
            400,
            f"{param}.role must be one of: {', '.join(ROLES)}.",
            "invalid_value",
            param=f"{param}.role",
        )
    content = message.get("content")
    if content is None and role == "assistant":
        content = ""
    if isinstance(content, list):
        content = _parts(content, f"{param}.content")
    if not isinstance(content, (str, list)):
        raise _wrong(f"{param}.content", "a string or an array of text and image parts")
    return {"role": ROLES[role], "content": content}


def _parts(parts: list[Any], param: str) -> str | list[dict[str, Any]]:
    """A message's content parts: their text joined when all are text (as any chat template
    takes it), else text and ``image_url`` parts as the engine takes them (a data URL each;
    a link is refused here, never fetched: see ``app.core.inference.images``)."""
    checked: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            checked.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise _wrong(f"{param}[{index}].image_url", "an object with a 'url'")
            checked.append(images.image_part(url))
        else:
            raise ApiError(
                400,
                "Only text and image_url parts are supported: Hearth reads no audio or files.",
                "unsupported_content",
                param=f"{param}[{index}]",
            )
    if not any(part["type"] == "image_url" for part in checked):
        return "\n".join(part["text"] for part in checked)
    try:
        images.check_images([{"content": checked}])
    except UnsupportedRequest as exc:
        raise ApiError(400, str(exc), "invalid_image_url", param=param) from exc
    return checked


def _stop_strings(stop: object) -> tuple[str, ...]:
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise _wrong("stop", "a string or an array of strings")
    if len(stop) > MAX_STOP_STRINGS:
        raise ApiError(
            400,
            f"At most {MAX_STOP_STRINGS} stop strings are allowed.",
            "invalid_value",
            param="stop",
        )
    return tuple(s for s in stop if s)


def _sampling_value(body: dict[str, Any], name: str, spec: Spec) -> float | None:
    low, high = spec.api_range()
    if spec.whole:
        return _integer(body, name, int(low), int(high))
    return _number(body, name, low, high)


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong(key, "a number")
    if not low <= value <= high:
        raise ApiError(
            400, f"{key} must be between {low:g} and {high:g}.", "invalid_value", param=key
        )
    return float(value)


def _integer(body: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(key, "an integer")
    if not low <= value <= high:
        raise ApiError(400, f"{key} must be between {low} and {high}.", "invalid_value", param=key)
    return value


def _missing(param: str, what: str) -> ApiError:
    return ApiError(
        400, f"'{param}' is required: {what}.", "missing_required_parameter", param=param
    )


def _wrong(param: str, what: str) -> ApiError:
    return ApiError(400, f"'{param}' must be {what}.", "invalid_type", param=param)


# -- responses ------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def finish_reason(stats: GenerationStats, stopped_by_string: bool) -> str:
    """OpenAI knows "stop" and "length"; an answer stopped on request ended as "stop"."""
    return "length" if stats.stop_reason == "length" and not stopped_by_string else "stop"


def usage(stats: GenerationStats) -> dict[str, Any]:
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.tokens,
        "total_tokens": stats.prompt_tokens + stats.tokens,
    }


def models_list(name: str) -> dict[str, Any]:
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "hearth"}] if name else []
    return {"object": "list", "data": data}


def chat_response(
    rid: str, model: str, text: str, finish: str, stats: GenerationStats
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": usage(stats),
    }


def completion_response(
    rid: str, model: str, choices: list[tuple[str, str]], stats: GenerationStats
) -> dict[str, Any]:
    """``choices``: (text, finish reason) for each prompt, in order."""
    return {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": i, "text": text, "logprobs": None, "finish_reason": finish}
            for i, (text, finish) in enumerate(choices)
        ],
        "usage": usage(stats),
    }


def total_stats(runs: list[GenerationStats]) -> GenerationStats:
    """One request's figures over its prompts (their tokens added up)."""
    if len(runs) == 1:
        return runs[0]
    return replace(
        runs[-1],
        tokens=sum(r.tokens for r in runs),
        prompt_tokens=sum(r.prompt_tokens for r in runs),
    )


def chunk(
    rid: str,
    model: str,
    completion: bool,
    text: str | None = None,
    finish: str | None = None,
    role: bool = False,
    index: int = 0,
) -> dict[str, Any]:
    """One streamed piece: text, the opening role (chat), or the finish reason."""
    if completion:
        choice = {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish}
        kind = "text_completion"
    else:
        delta = (
            {"role": "assistant", "content": ""}
            if role
            else ({"content": text} if text is not None else {})
        )
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        kind = "chat.completion.chunk"
    return {
        "id": rid,
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


def usage_chunk(rid: str, model: str, completion: bool, stats: GenerationStats) -> dict[str, Any]:
    kind = "text_completion" if completion else "chat.completion.chunk"
    return {
        "id": rid,
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": usage(stats),
    }


class StopMatcher:
    """Cuts an answer at the first stop string, holding back text that may begin one."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.hit = False
        self._held = ""

    def feed(self, text: str) -> str:
        """The part of ``text`` that can be sent now."""
        if self.hit:
            return ""
        if not self.stops:
            return text
        held = self._held + text
        cuts = [i for i in (held.find(s) for s in self.stops) if i >= 0]
        if cuts:
            self.hit, self._held = True, ""
            return held[: min(cuts)]
        keep = max(
            (
                k
                for s in self.stops
                for k in range(min(len(s) - 1, len(held)), 0, -1)
                if held.endswith(s[:k])
            ),
            default=0,
        )
        self._held = held[len(held) - keep :] if keep else ""
        return held[: len(held) - keep]

    def flush(self) -> str:
        """What was held back, once the answer has ended without a stop string."""
        held, self._held = self._held, ""
        return "" if self.hit else held
