"""How a local model is named to a person: the model's name, its quant and where it comes from.

A library entry's ``name`` is the path it was found under (``bartowski/SmolLM2-135M-Instruct-GGUF/
SmolLM2-135M-Instruct-Q4_1.gguf`` in the Hugging Face cache), too long for a picker, which cut the
quant off; and two different files could both show as ``SmolLM2-135M-Instruct.Q4_1`` (issue 19).
Here: ``SmolLM2-135M-Instruct · Q4_1``, with the repo (or the folder) added where two labels would
otherwise be the same. The file's path is for tooltips and details.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the catalog brings the download code: not needed to name a model
    from app.core.library.catalog import LocalModel

_SHARD = re.compile(r"-\d{5}-of-\d{5}$", re.IGNORECASE)
ORIGINS = {"starter": "starter model", "ollama": "Ollama"}


def base_name(model: LocalModel) -> str:
    """The model's name without its folder, extension, shard number and quant:
    ``SmolLM2-135M-Instruct-Q4_K_M.gguf`` -> ``SmolLM2-135M-Instruct``."""
    if model.source == "ollama":
        return model.name
    stem = PurePath(model.name).name
    if stem.lower().endswith(".gguf"):
        stem = stem[: -len(".gguf")]
    stem = _SHARD.sub("", stem)
    if model.quant:
        cut = re.compile(rf"[-._ ]{re.escape(model.quant)}$", re.IGNORECASE)
        stem = cut.sub("", stem)
    return stem or model.name


def origin(model: LocalModel) -> str:
    """Where it comes from: its Hub repo, else the app or folder holding it."""
    if model.repo_id:
        return model.repo_id
    return ORIGINS.get(model.source) or model.path.parent.name or str(model.path.parent)


def labels(models: Iterable[LocalModel]) -> list[str]:
    """One label per model, in order: ``name · quant``, then `` · origin`` where two would be
    the same, then the folder's path where even that is not enough."""
    models = list(models)
    short = [f"{base_name(m)} · {m.quant}" if m.quant else base_name(m) for m in models]
    counts = Counter(short)
    longer = [f"{s} · {origin(m)}" if counts[s] > 1 else s for s, m in zip(short, models)]
    counts = Counter(longer)
    return [f"{s} · {m.path.parent}" if counts[s] > 1 else s for s, m in zip(longer, models)]
