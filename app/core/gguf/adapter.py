"""LoRA adapters in GGUF: what one says it is made for, and whether it fits a model.

Checked from the two headers before llama.cpp reads the adapter: llama.cpp 0.3.36 ends the
process (a segmentation fault, measured) on an adapter whose low-rank weights do not match the
model's, where the user should get one sentence instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from app.core.common.errors import ModelFileError, ModelLoadError
from app.core.gguf.check import adapter_problem
from app.core.gguf.header import GgufHeader, read_local_header

MAX_SHOWN = 120  # characters of a base model's name shown (real ids: ~60 at most)


@dataclass(frozen=True)
class AdapterInfo:
    architecture: str
    base_model: str  # the model it was trained on, as its metadata names it ("" when it does not)
    alpha: float


def is_adapter(header: GgufHeader) -> bool:
    """Whether a GGUF file is a LoRA adapter (not a model to load on its own)."""
    return bool(header.get("general.type") == "adapter" and header.get("adapter.type") == "lora")


def adapter_info(header: GgufHeader) -> AdapterInfo:
    """An adapter's architecture, base model and alpha, from its metadata."""
    base = shown_text(header.get("general.base_model.0.name")) or shown_text(
        header.get("general.basename")
    )
    alpha = header.get("adapter.lora.alpha", 0.0)
    number = isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
    return AdapterInfo(
        architecture=header.architecture,
        base_model=base,
        alpha=float(alpha) if number and math.isfinite(alpha) else 0.0,
    )


def shown_text(value: object, limit: int = MAX_SHOWN) -> str:
    """A header's text as a menu or a label shows it: one line of printable characters, at
    most ``limit`` long ("" when the value is no text). A forged header may put a number, a
    list, line breaks or 100 KB where a model's name belongs."""
    if not isinstance(value, str):
        return ""
    line = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def check_fits(adapter: Path, model: Path) -> AdapterInfo:
    """Refuse (``ModelLoadError``, one sentence) an adapter that is not a LoRA adapter or was
    made for another model: another architecture, a weight the model lacks, or other sizes."""
    try:
        header = read_local_header(adapter)
    except (ModelFileError, OSError) as exc:
        raise ModelLoadError(f"The adapter {adapter.name} could not be read: {exc}") from exc
    if not is_adapter(header):
        raise ModelLoadError(f"{adapter.name} is not a LoRA adapter.")
    damage = adapter_problem(header, adapter.stat().st_size)
    if damage:
        raise ModelLoadError(f"The adapter {adapter.name} is damaged: {damage}")
    info = adapter_info(header)
    base = read_local_header(model)
    problem = _mismatch(header, base)
    if problem:
        raise ModelLoadError(
            f"The adapter {adapter.name} does not fit {model.name}: it was made for another "
            f"model ({problem})."
        )
    return info


def _mismatch(adapter: GgufHeader, model: GgufHeader) -> str | None:
    if adapter.architecture != model.architecture:  # a forged one may be any text: one line
        made_for = shown_text(adapter.architecture) or "unknown"
        return f"a {made_for} model, this one is {shown_text(model.architecture)}"
    weights = {t.name: t.shape for t in model.tensors}
    parts = {t.name: t.shape for t in adapter.tensors}
    for name, a in parts.items():
        if not name.endswith(".lora_a"):
            continue
        target = name.removesuffix(".lora_a")
        b = parts.get(target + ".lora_b")
        shape = weights.get(target)
        if b is None or len(a) < 2 or len(b) < 2:
            return f"{target} has half of its low-rank pair"
        if shape is None or len(shape) < 2:
            return f"this model has no {target}"
        if a[0] != shape[0] or b[1] != shape[1] or a[1] != b[0]:
            return (
                f"its {target} is {a[0]:,} by {b[1]:,}, this model's {shape[0]:,} by {shape[1]:,}"
            )
    return None
