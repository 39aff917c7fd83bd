"""The load flags ``hearth run`` and ``hearth serve`` share: prompt-lookup drafting and a LoRA
adapter (the sampling flags come from ``app.core.config.sampling.add_flags``)."""

from __future__ import annotations

import argparse

from app.core.config import limits
from app.core.inference.types import DRAFT_TOKENS


def add(parser: argparse.ArgumentParser) -> None:
    """--draft [N], --lora ADAPTER and --lora-scale X."""
    parser.add_argument(
        "--draft",
        nargs="?",
        type=int,
        const=DRAFT_TOKENS,
        default=0,
        metavar="N",
        help=f"prompt-lookup drafting: guess up to N tokens a step (default {DRAFT_TOKENS}) "
        "from the chat; faster only where answers repeat the chat and a batch of tokens costs "
        "this machine little more than one (measure it: hearth bench draft)",
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
