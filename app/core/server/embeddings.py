"""``POST /v1/embeddings`` in OpenAI's shapes: what is asked, and the answer.

``input`` is a text or an array of texts (token arrays are refused: Hearth takes text);
``encoding_format`` "float" or "base64" (little-endian float32, what the official client asks
for by default); ``dimensions`` is refused, the model's own size being the only one.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from app.core.server.errors import ApiError

MAX_INPUTS = 256


@dataclass(frozen=True)
class EmbeddingRequest:
    texts: list[str]
    base64: bool


def parse(body: dict[str, Any]) -> EmbeddingRequest:
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts:
        raise ApiError(
            400,
            "'input' is required: a text or an array of texts.",
            "missing_required_parameter",
            param="input",
        )
    if not all(isinstance(t, str) for t in texts):
        raise ApiError(
            400,
            "'input' must be text: Hearth does not take token arrays.",
            "invalid_type",
            param="input",
        )
    if len(texts) > MAX_INPUTS:
        raise ApiError(
            400,
            f"At most {MAX_INPUTS} texts are embedded in one request; this one has {len(texts)}.",
            "invalid_value",
            param="input",
        )
    if any(not t for t in texts):
        raise ApiError(400, "'input' must not hold empty texts.", "invalid_value", param="input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(
            400,
            '\'encoding_format\' must be "float" or "base64".',
            "invalid_value",
            param="encoding_format",
        )
    if body.get("dimensions") is not None:
        raise ApiError(
            400,
            "'dimensions' is not supported: the embeddings have the model's own size.",
            "unsupported_parameter",
            param="dimensions",
        )
    return EmbeddingRequest(texts, encoding == "base64")


def response(
    model: str, vectors: list[list[float]], tokens: int, as_base64: bool
) -> dict[str, Any]:
    def encoded(vector: list[float]) -> list[float] | str:
        if not as_base64:
            return vector
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")

    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encoded(v)}
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
