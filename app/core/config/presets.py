"""Sampling presets and per-model settings (what a model is loaded and sampled with)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from app.core.config import limits

PRESETS: dict[str, dict[str, float | int]] = {
    "Precise": {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "repeat_penalty": 1.1,
    },
    "Balanced": {
        "temperature": 0.7,
        "top_p": 0.95,
        "top_k": 40,
        "min_p": 0.05,
        "repeat_penalty": 1.1,
    },
    "Creative": {
        "temperature": 1.0,
        "top_p": 0.98,
        "top_k": 100,
        "min_p": 0.02,
        "repeat_penalty": 1.05,
    },
}
KV_TYPES = ("f16", "q8_0", "q4_0")
DEFAULT_MAX_TOKENS = 1024
CONTEXT_CAP = 8192  # default context when the model allows more: memory grows with it


@dataclass(frozen=True)
class ModelSettings:
    """Everything chosen for one model. ``n_ctx`` 0 = the model's own, capped at 8192;
    ``gpu_layers`` is "auto", "all" or a number as text."""

    temperature: float = PRESETS["Balanced"]["temperature"]
    top_p: float = PRESETS["Balanced"]["top_p"]
    top_k: int = PRESETS["Balanced"]["top_k"]
    min_p: float = PRESETS["Balanced"]["min_p"]
    repeat_penalty: float = PRESETS["Balanced"]["repeat_penalty"]
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int = -1
    n_ctx: int = 0
    gpu_layers: str = "auto"
    flash_attn: bool = False
    kv_type: str = "f16"
    n_threads: int = 0

    def with_preset(self, name: str) -> ModelSettings:
        return replace(self, **PRESETS[name])

    def preset_name(self) -> str:
        """The preset these sampling values equal, or "Custom"."""
        mine = asdict(self)
        for name, values in PRESETS.items():
            if all(abs(float(mine[k]) - float(v)) < 1e-9 for k, v in values.items()):
                return name
        return "Custom"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> ModelSettings:
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in (data or {}).items() if k in known and limits.in_range(k, v)}
        try:
            settings = cls(**values)
        except TypeError:
            return cls()
        if settings.kv_type not in KV_TYPES:
            settings = replace(settings, kv_type="f16")
        return settings


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
