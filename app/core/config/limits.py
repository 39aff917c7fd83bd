"""The ranges of every number a user, a settings file or a model file can hand llama.cpp.

llama.cpp keeps these numbers in C ints: a value past their range wraps silently (a context of
4,294,967,296 tokens became 0), overflows a numpy buffer (a context of 2^40 tokens), or makes
llama.cpp abort (100,000 threads). Python floats such as NaN or 1e308 reach the sampler as
they are. So each value is checked once, here, before it goes anywhere:

* ``LoadOptions`` (app.core.inference.types) and ``Sampling`` (app.core.config.sampling, whose
  fields declare their own ranges from the numbers here) refuse a value out of range with
  :class:`InvalidValue`, one sentence naming the value and its range;
* settings files (app.core.config.settings, app.core.config.presets) put such a value back to its default
  and say so in their notice;
* the command line refuses it with one line (the ``argparse`` types below).

Two values are clamped instead, as their larger values mean the same as the limit: threads
(at most the machine's logical CPUs; more only make llama.cpp's spinning threads wait on each
other) and GPU layers (more than a model can have means "all").
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import Any

from app.core.common.errors import HearthError

MAX_LAYERS = 512  # llama.cpp's LLAMA_MAX_LAYERS
MAX_DRAFT_TOKENS = 64  # prompt-lookup drafting: tokens guessed a step
AUTO_DRAFT = -1  # draft_tokens: drafting where this machine's batches pay (draft_policy)
# Far above any real model's trained context (Llama 4 Scout: 10,485,760) and inside a C int;
# llama-cpp-python reads the trained context back as a signed 32-bit number.
MAX_CONTEXT = 1 << 24
MAX_BATCH = 1 << 16
MAX_TOKENS = 1 << 24  # tokens one answer may ask for (never more than the context anyway)
MAX_TOP_K = 1 << 20  # above the largest vocabularies (~260k tokens)
MAX_TEMPERATURE = 100.0
MAX_REPEAT_PENALTY = 100.0
MAX_SEED = 2**32 - 1  # llama.cpp's seed is a uint32; -1 = a new random seed per answer
# A system prompt of 1 MB is ~250k tokens, more than any context here takes; the studio hung
# for minutes on a 50 MB one (shown in a text box, tokenized for every answer).
MAX_PROMPT_CHARS = 1 << 20
AUTO_LAYERS = -2  # engine.AUTO_LAYERS


class InvalidValue(HearthError):
    """A number given for loading or sampling a model is outside what llama.cpp can take."""


def cpu_count() -> int:
    """The machine's logical CPUs: the most threads worth giving llama.cpp."""
    return os.cpu_count() or 1


def threads(value: int) -> int:
    """``value`` threads, at most the machine's logical CPUs (0 = Hearth chooses)."""
    whole(value, "The thread count", 0, None)
    return min(value, cpu_count())


def gpu_layers(value: int) -> int:
    """GPU layers: -2 (auto), -1 (all) or a count; a count above any model's layers = all."""
    whole(value, "The GPU layer count", AUTO_LAYERS, None)
    return -1 if value > MAX_LAYERS + 1 else value


def context(value: int, what: str = "The context length") -> int:
    """A context length in tokens; 0 = the model's own."""
    return whole(value, what, 0, MAX_CONTEXT)


def batch(value: int) -> int:
    return whole(value, "The batch size", 1, MAX_BATCH)


def prompt(text: str, what: str = "The system prompt") -> str:
    if not isinstance(text, str):
        raise InvalidValue(f"{what} must be text.")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidValue(
            f"{what} is {len(text):,} characters long; at most {MAX_PROMPT_CHARS:,} are taken."
        )
    return text


def draft_tokens(value: object) -> int:
    """Prompt-lookup drafting's tokens a step (0 = off, ``AUTO_DRAFT``: where it pays, measured
    at load): more is decoded and thrown away."""
    if type(value) is int and value == AUTO_DRAFT:
        return value
    return whole(value, "The count of drafted tokens", 0, MAX_DRAFT_TOKENS)


def lora_scale(value: object) -> float:
    """A LoRA adapter's strength: 0 is the model alone, 1 the adapter as trained."""
    return number(value, "The adapter's strength", 0.0, 2.0)


def whole(value: object, what: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"{what} must be a whole number, not {str(value)[:40]!r}.")
    if value < low or (high is not None and value > high):
        span = f"from {low:,} to {high:,}" if high is not None else f"{low:,} or more"
        raise InvalidValue(f"{what} must be {span}, not {value:,}.")
    return value


def number(value: object, what: str, low: float, high: float, above_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidValue(f"{what} must be a number, not {str(value)[:40]!r}.")
    given = float(value)
    if not math.isfinite(given) or given < low or given > high or (above_low and given == low):
        first = f"more than {low:g}" if above_low else f"from {low:g}"
        raise InvalidValue(f"{what} must be a number {first} to {high:g}, not {given:g}.")
    return given


# -- settings files ----------------------------------------------------------------------------

# What Settings and ModelSettings hand to llama.cpp, by field name: out of range, a stored value
# goes back to its default (threads and GPU layers are clamped instead).
# The sampling fields' ranges are in their declaration (app.core.config.sampling).
SETTING_RANGES: dict[str, Callable[[Any], object]] = {
    "n_ctx": context,
    "draft_tokens": draft_tokens,
    "lora_scale": lora_scale,
    "n_gpu_layers": gpu_layers,
    "n_threads": threads,
    "system_prompt": prompt,
}


def in_range(name: str, value: object) -> bool:
    """Whether a setting called ``name`` may take ``value`` (see ``SETTING_RANGES``)."""
    try:
        check = SETTING_RANGES.get(name)
        if check is not None:
            check(value)
    except InvalidValue:
        return False
    return True


# -- the command line ------------------------------------------------------------------------


def cli_type(
    check: Callable[[Any], object],
    parse: Callable[[str], object] = int,
    name: str = "a whole number",
) -> Callable[[str], object]:
    """An ``argparse`` type: ``parse`` then ``check``; a failure is argparse's one-line error."""

    def convert(text: str) -> object:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {name}") from None
        try:
            return check(value)
        except InvalidValue as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the type in its message
    return convert


cli_context = cli_type(lambda v: whole(v, "--ctx", 1, MAX_CONTEXT))
cli_prompt = cli_type(prompt, str, "text")
