"""llama-cpp-python's keyword arguments for a ``SamplingOptions``: the sampler's settings, the
logit bias, and a grammar for JSON answers.

Runs where the engine runs (the model's host process): building a grammar needs llama_cpp's
converter, which the API server does not load. What the model cannot do as asked (a schema
the converter does not take, a token id past the vocabulary) raises ``UnsupportedRequest``,
which the server answers 400, never an answer that ignores it.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from app.core.common.errors import UnsupportedRequest
from app.core.inference.types import SamplingOptions

if TYPE_CHECKING:  # llama.cpp is loaded only when a grammar is asked for
    from llama_cpp.llama_grammar import LlamaGrammar


def llama_kwargs(sampling: SamplingOptions, n_vocab: int) -> dict[str, Any]:
    """The keyword arguments of ``create_completion`` / ``create_chat_completion``.

    A random seed (-1) is drawn here for each answer: llama-cpp-python keeps the last seed it
    was given and reuses it when the next call passes none, so after one answer with a fixed
    seed, "random" would repeat it."""
    kwargs: dict[str, Any] = dict(
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        min_p=sampling.min_p,
        repeat_penalty=sampling.repeat_penalty,
        presence_penalty=sampling.presence_penalty,
        frequency_penalty=sampling.frequency_penalty,
        max_tokens=sampling.max_tokens if sampling.max_tokens > 0 else None,
        seed=sampling.seed if sampling.seed >= 0 else random.randrange(2**31),
    )
    if sampling.logit_bias:
        past = [token for token, _ in sampling.logit_bias if token >= n_vocab]
        if past:
            raise UnsupportedRequest(
                f"logit_bias names token {past[0]}, but this model's tokens are numbered "
                f"0 to {n_vocab - 1}."
            )
        kwargs["logit_bias"] = dict(sampling.logit_bias)
    grammar = json_grammar(sampling)
    if grammar is not None:
        kwargs["grammar"] = grammar
    return kwargs


def json_grammar(sampling: SamplingOptions) -> LlamaGrammar | None:
    """A ``LlamaGrammar`` that keeps the answer to JSON (any object, or the schema's shape),
    or None for plain text."""
    if sampling.response_format == "text":
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if sampling.response_format == "json_object":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    try:
        return LlamaGrammar.from_json_schema(sampling.json_schema, verbose=False)
    except Exception as exc:  # noqa: BLE001 - the converter raises bare Exception, KeyError...
        raise UnsupportedRequest(
            f"response_format: this JSON schema cannot be followed ({str(exc)[:200]}). Hearth "
            "takes the schema forms llama.cpp turns into a grammar: objects, arrays, strings, "
            "numbers, enums, required properties."
        ) from exc
