"""The load flags ``hearth run`` and ``hearth serve`` share: drafting (from the chat, or by a
draft model) and a LoRA adapter (the sampling flags come from
``app.core.config.sampling.add_flags``); and the image projector, which only ``hearth serve``
takes (its API reads images)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.core.config import limits
from app.core.inference.types import DRAFT_TOKENS
from app.core.library.projector import find_projector

NO_PROJECTOR = "none"


def _draft_count(text: str) -> int:
    if text.strip().lower() == "auto":
        return limits.AUTO_DRAFT
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number or 'auto'") from None


def add(parser: argparse.ArgumentParser) -> None:
    """--draft [N], --draft-model FILE, --lora ADAPTER and --lora-scale X."""
    parser.add_argument(
        "--draft",
        nargs="?",
        type=_draft_count,  # its range checked with the load's options, in their words
        const=DRAFT_TOKENS,
        default=0,
        metavar="N|auto",
        help=f"prompt-lookup drafting: guess up to N tokens a step (default {DRAFT_TOKENS}) "
        "from the prompt; faster only where answers repeat the prompt and a batch of tokens "
        "costs this machine little more than one (measure it: hearth bench draft). 'auto': "
        "measure that at load (a few decodes) and draft only where it pays, as Chat does by "
        "default; off without the flag",
    )
    parser.add_argument(
        "--draft-model",
        metavar="FILE",
        default="",
        help="draft with this smaller model of the same family (a GGUF sharing the model's "
        "vocabulary) instead of from the chat: it guesses N tokens a step (--draft N, default "
        f"{DRAFT_TOKENS}), the model keeps those it would have picked",
    )
    parser.add_argument(
        "--lora", metavar="ADAPTER", default="", help="apply this LoRA adapter (a GGUF file)"
    )
    parser.add_argument(
        "--lora-scale",
        type=limits.cli_type(limits.lora_scale, float, "a number"),
        default=1.0,
        metavar="X",
        help="the adapter's strength, 0 to 2 (default 1: as trained)",
    )


def add_projector(parser: argparse.ArgumentParser) -> None:
    """--mmproj FILE (or none)."""
    parser.add_argument(
        "--mmproj",
        metavar="FILE",
        default="",
        help="load this image projector (the repo's mmproj GGUF) with the model, so that "
        "requests may hold images (default: the one beside the model, if there is one; "
        f"'{NO_PROJECTOR}' for none)",
    )


def projector(given: str, model: Path) -> tuple[str, str]:
    """The projector to load with ``model`` and, when found rather than given, how the start
    says so (the user should know why the model reads images, and how not to load it)."""
    if given == NO_PROJECTOR:
        return "", ""
    if given:
        return given, ""
    found = find_projector(model)
    if found is None:
        return "", ""
    return str(found), (
        f"with its image projector {found.name}, found beside it "
        f"(--mmproj {NO_PROJECTOR} to leave it out)"
    )
