"""One typed settings object, its defaults in one place, stored as JSON with a schema version."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.core.common.errors import SettingsError
from app.core.common.json_file import Damaged, read_json, write_json
from app.core.config import limits
from app.core.config.presets import DEFAULT_MAX_TOKENS, PRESETS, ModelSettings

log = logging.getLogger("hearth.settings")
BALANCED = PRESETS["Balanced"]

SCHEMA_VERSION = 1


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    # Chat
    last_model: str = ""
    last_chat: int = 0
    system_prompt: str = ""  # empty: the model's own template default applies
    # Sampling and loading, used by the CLI and as the defaults of models never set up
    temperature: float = BALANCED["temperature"]
    top_p: float = BALANCED["top_p"]
    top_k: int = BALANCED["top_k"]
    min_p: float = BALANCED["min_p"]
    repeat_penalty: float = BALANCED["repeat_penalty"]
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int = -1
    n_ctx: int = 0  # 0 = the model's own context, capped at 8192
    n_gpu_layers: int = -1
    n_threads: int = 0  # 0 = let llama.cpp choose
    # Per-model settings: model path -> ModelSettings.to_json()
    model_settings: dict = field(default_factory=dict)
    # Library
    model_folders: list[str] = field(default_factory=list)
    hidden_models: list[str] = field(default_factory=list)  # unlinked from Hearth, not deleted
    # Web pages beyond this computer that may call the API server (as `hearth serve
    # --allow-origin`); pages on this computer and desktop apps' own pages always may.
    api_allowed_origins: list[str] = field(default_factory=list)
    # Window
    window_geometry: str = ""
    theme: str = "system"  # "system" (the desktop's light or dark scheme), "light" or "dark"

    # What the user should be told about the file this was read from (not stored).
    notice: str = field(default="", compare=False, repr=False, metadata={"stored": False})

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Read settings; a missing file gives defaults, a damaged one defaults too (kept aside
        as ``settings.json.damaged-<time>``), a value of the wrong type its default alone; what
        was reset is in ``notice``, one sentence for the user."""
        loaded = read_json(path, "Your settings", _parse, cls, dump=lambda s: s.stored())
        return replace(loaded.value, notice=loaded.message)

    def stored(self) -> dict:
        """What is saved: every field but ``notice``."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("stored", True)
        }

    def save(self, path: Path) -> None:
        """Write atomically: a crash mid-write never leaves a half file."""
        try:
            write_json(path, self.stored())
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"Your settings could not be saved to {path}: "
                f"{getattr(exc, 'strerror', None) or exc}."
            ) from exc


def _same_type(value: Any, default: Any) -> bool:
    """``value`` may replace ``default``: the same JSON type (an int where a float is due too;
    a bool is never a number)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return type(value) in (int, float) and math.isfinite(value)
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return type(value) is type(default)


def _model_settings(value: dict, notes: list[str]) -> dict:
    """Per-model settings: each an object whose values have ModelSettings' types."""
    defaults = asdict(ModelSettings())
    kept = {}
    for model, chosen in value.items():
        if not isinstance(chosen, dict):
            notes.append(f"the settings of {str(model)[:60]} are not a JSON object")
            continue
        good = {
            k: v
            for k, v in chosen.items()
            if k in defaults and _same_type(v, defaults[k]) and limits.in_range(k, v)
        }
        if len(good) != len(chosen):
            bad = sorted(set(chosen) - set(good))
            notes.append(f"{', '.join(str(b)[:40] for b in bad[:3])} of {str(model)[:60]}")
        kept[model] = good
    return kept


def _parse(raw: Any, notes: list[str]) -> Settings:
    if not isinstance(raw, dict):
        raise Damaged("it is not a JSON object")
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name not in raw or f.name == "schema_version" or not f.metadata.get("stored", True):
            continue
        value, default = raw[f.name], getattr(defaults, f.name)
        if not _same_type(value, default):
            notes.append(f"{f.name} was {json.dumps(value)[:40]}, not {_KIND[type(default)]}")
            continue
        if f.name == "model_settings":
            value = _model_settings(value, notes)
        if f.name in RANGES:
            try:
                value = RANGES[f.name](value)
            except limits.InvalidValue as exc:
                notes.append(str(exc).rstrip(".").lower())
                continue
        values[f.name] = float(value) if isinstance(default, float) else value
    return Settings(**values)


RANGES = limits.SETTING_RANGES  # out of range, a value goes back to its default


_KIND = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text",
    list: "a list of text",
    dict: "a JSON object",
}
