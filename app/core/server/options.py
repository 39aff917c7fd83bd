"""The request fields that change an answer beyond the sampler's basics: honoured, or refused
with a 400 naming the field, never accepted and ignored (a client asking for JSON and given
prose, or for a tool call and given text, cannot tell it was not honoured).

Honoured: ``presence_penalty``, ``frequency_penalty``, ``logit_bias`` (llama.cpp's sampler),
``response_format`` ``json_object`` and ``json_schema`` (a grammar the answer must follow).
Refused: ``logprobs`` and ``top_logprobs`` (llama.cpp gives them only for a model loaded to
keep every position's logits, which costs memory every answer would pay for), ``tools``,
``tool_choice``, ``functions``, ``function_call`` (tool calls are not parsed from answers),
``best_of`` above 1. Fields that change nothing in the answer (``user``, ``store``...) are
accepted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from app.core.server.errors import ApiError

MAX_SCHEMA_CHARS = 64 * 1024
MAX_REPEATS = 1024  # minItems/maxItems/minLength/maxLength: the grammar spells each one out
MAX_BIASES = 1024


def output_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The ``SamplingOptions`` fields these request fields give (only those sent)."""
    _refuse_unsupported(body)
    fields: dict[str, Any] = {}
    for key in ("presence_penalty", "frequency_penalty"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ApiError(400, f"'{key}' must be a number.", "invalid_type", param=key)
        if not -2.0 <= value <= 2.0:
            raise ApiError(400, f"{key} must be between -2 and 2.", "invalid_value", param=key)
        fields[key] = float(value)
    if body.get("logit_bias") is not None:
        fields["logit_bias"] = _logit_bias(body["logit_bias"])
    if body.get("response_format") is not None:
        fields.update(_response_format(body["response_format"]))
    return fields


def _refuse_unsupported(body: dict[str, Any]) -> None:
    def refuse(param: str, message: str) -> None:
        raise ApiError(400, message, "unsupported_parameter", param=param)

    if body.get("logprobs") not in (None, False):
        refuse(
            "logprobs",
            "'logprobs' is not supported: Hearth's llama.cpp engine does not keep the "
            "logits of every position. Leave it out (or false).",
        )
    if body.get("top_logprobs") not in (None, 0):
        refuse("top_logprobs", "'top_logprobs' is not supported (no logprobs): leave it out.")
    for param in ("tools", "functions"):
        if body.get(param):
            refuse(
                param,
                f"'{param}' is not supported: Hearth does not parse tool calls from the "
                "model's answer. Leave it out, or describe the tools in a message.",
            )
    for param in ("tool_choice", "function_call"):
        if body.get(param) not in (None, "none", "auto"):
            refuse(param, f"'{param}' is not supported (no tools): leave it out.")
    if body.get("best_of") not in (None, 1):
        refuse("best_of", "Only best_of=1 is supported: one answer per request.")


def _logit_bias(bias: object) -> tuple[tuple[int, float], ...]:
    def wrong(message: str) -> ApiError:
        return ApiError(400, message, "invalid_value", param="logit_bias")

    if not isinstance(bias, dict):
        raise wrong("'logit_bias' must be an object mapping token ids to numbers.")
    if len(bias) > MAX_BIASES:
        raise wrong(f"'logit_bias' may name at most {MAX_BIASES} tokens.")
    pairs = []
    for token, value in bias.items():
        if not (isinstance(token, str) and token.isdigit()):
            raise wrong(f"logit_bias: {str(token)[:40]!r} is not a token id (a number).")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not -100 <= value <= 100
        ):
            raise wrong(f"logit_bias: token {token}'s bias must be a number from -100 to 100.")
        pairs.append((int(token), float(value)))
    return tuple(pairs)


def _response_format(value: object) -> dict[str, Any]:
    def wrong(message: str) -> ApiError:
        return ApiError(400, message, "invalid_value", param="response_format")

    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"response_format": "json_object"}
    if kind != "json_schema":
        raise wrong('\'response_format\' must be {"type": "text"}, "json_object" or "json_schema".')
    spec = value.get("json_schema") if isinstance(value, dict) else None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise wrong("response_format.json_schema.schema must be a JSON schema (an object).")
    text = json.dumps(schema)
    if len(text) > MAX_SCHEMA_CHARS:
        raise wrong(
            f"response_format: the JSON schema is longer than {MAX_SCHEMA_CHARS:,} characters."
        )
    _check_repeats(schema, wrong)
    return {"response_format": "json_schema", "json_schema": text}


def _check_repeats(node: object, wrong: Callable[[str], ApiError]) -> None:
    """Refuse repeat counts the grammar would spell out one by one (a schema asking for a
    million items would make a grammar of a million rules)."""
    if isinstance(node, dict):
        for key in ("minItems", "maxItems", "minLength", "maxLength"):
            count = node.get(key)
            if isinstance(count, (int, float)) and count > MAX_REPEATS:
                raise wrong(
                    f"response_format: the JSON schema's {key} may be at most {MAX_REPEATS}."
                )
        for child in node.values():
            _check_repeats(child, wrong)
    elif isinstance(node, list):
        for child in node:
            _check_repeats(child, wrong)
