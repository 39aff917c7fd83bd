"""Per-model settings: what a model is loaded and sampled with (the presets are in
``app.core.config.sampling``, with the sampling fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from app.core.config import limits
from app.core.config.sampling import Sampling, preset_name, with_preset

KV_TYPES = ("f16", "q8_0", "q4_0")
CONTEXT_CAP = 8192  # default context when the model allows more: memory grows with it


@dataclass(frozen=True)
class ModelSettings:
    """Everything chosen for one model. ``n_ctx`` 0 = the model's own, capped at 8192;
    ``gpu_layers`` is "auto", "all" or a number as text."""

    sampling: Sampling = field(default_factory=Sampling)
    n_ctx: int = 0
    gpu_layers: str = "auto"
    flash_attn: bool = False
    kv_type: str = "f16"
    n_threads: int = 0
    # prompt-lookup drafting (LoadOptions.draft_tokens): auto by default, on only where a
    # batch of tokens costs this machine little (measured at load); 0 = off
    draft_tokens: int = limits.AUTO_DRAFT
    draft_model_path: str = ""  # a draft model (LoadOptions.draft_model_path); "" = none
    lora_path: str = ""  # a LoRA adapter applied to the model ("" = none), at lora_scale
    lora_scale: float = 1.0

    def with_preset(self, name: str) -> ModelSettings:
        return replace(self, sampling=with_preset(self.sampling, name))

    def preset_name(self) -> str:
        """The preset these sampling values equal, or "Custom"."""
        return preset_name(self.sampling)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def tolerant(cls, raw: Mapping[str, Any], notes: list[str], where: str = "") -> dict[str, Any]:
        """What of a stored object may be used (``to_json``'s shape, or that of earlier
        versions, which kept the sampling values beside the others); each value of the wrong
        type or out of range is left out and said in ``notes``."""
        sampled = raw.get("sampling", raw)  # earlier versions: the sampling values at the top
        kept: dict[str, Any] = {}
        if isinstance(sampled, Mapping):
            kept["sampling"] = Sampling.tolerant(sampled, notes, where)
        else:
            notes.append(f"sampling was {str(sampled)[:40]}, not a JSON object{where}")
        for name, default in _LOAD_DEFAULTS.items():
            if name not in raw:
                continue
            value = raw[name]
            good = type(value) is type(default) and limits.in_range(name, value)
            if good and name == "kv_type":
                good = value in KV_TYPES
            if good:
                kept[name] = value
            else:
                notes.append(f"{name} was {str(value)[:40]}{where}")
        return kept

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ModelSettings:
        """A stored object's settings, each unusable value at its default."""
        if not isinstance(data, Mapping):
            return cls()
        kept = cls.tolerant(data, [])
        return cls(sampling=Sampling(**kept.pop("sampling", {})), **kept)


_LOAD_DEFAULTS = {f.name: f.default for f in fields(ModelSettings) if f.name != "sampling"}


def context_length(choice: int, trained: int | None) -> int:
    """The context to load with: the user's number, else the model's own capped at 8192."""
    if choice > 0:
        return choice
    return min(trained or 4096, CONTEXT_CAP)


AUTO_LAYERS = -2  # engine.AUTO_LAYERS: let the fit estimator choose


def gpu_layer_count(choice: str) -> int:
    """n_gpu_layers for a choice: "all" = every layer the build can offload (-1), "auto" = as
    many as fit this machine (decided at load time), a number as it is."""
    choice = choice.strip().lower()
    if choice.isdigit() and choice.isascii():
        return limits.gpu_layers(int(choice[:12]))  # more than any model has = all
    return -1 if choice == "all" else AUTO_LAYERS
