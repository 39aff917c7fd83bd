"""One typed settings object, its defaults in one place, stored as JSON with a schema version."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.core.common.errors import SettingsError
from app.core.common.json_file import Damaged, read_json, write_json
from app.core.config import limits
from app.core.config.presets import ModelSettings
from app.core.config.sampling import Sampling

log = logging.getLogger("hearth.settings")

# 2: the sampling values under "sampling" (1 had them at the top level; such a file still loads)
SCHEMA_VERSION = 2


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    # Chat
    last_model: str = ""
    last_chat: int = 0
    system_prompt: str = ""  # empty: the model's own template default applies
    # Sampling and loading, used by the CLI, the API server and as the defaults of models
    # never set up
    sampling: Sampling = field(default_factory=Sampling)
    n_ctx: int = 0  # 0 = the model's own context, capped at 8192
    n_gpu_layers: int = -1
    n_threads: int = 0  # 0 = let llama.cpp choose
    # Per-model settings: model path -> ModelSettings.to_json() (or a part of it)
    model_settings: dict[str, Any] = field(default_factory=dict[str, Any])
    # Library
    model_folders: list[str] = field(default_factory=list)
    hidden_models: list[str] = field(default_factory=list)  # unlinked from Hearth, not deleted
    # Web pages beyond this computer that may call the API server (as `hearth serve
    # --allow-origin`); pages on this computer and desktop apps' own pages always may.
    api_allowed_origins: list[str] = field(default_factory=list)
    # The local API server (Settings dialog): its port, and whether it starts with the studio
    api_port: int = 8080  # app.core.server.server.DEFAULT_PORT (config imports no server)
    api_start_with_studio: bool = False
    # Quants whose answers come slower than this (tokens a second) are not Recommended
    comfortable_tok_s: float = 10.0  # app.core.quants.pick.COMFORTABLE_TOK_S
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

    def stored(self) -> dict[str, Any]:
        """What is saved: every field but ``notice``, as JSON values."""
        values = asdict(self)
        return {f.name: values[f.name] for f in fields(self) if f.metadata.get("stored", True)}

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


def _model_settings(value: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Per-model settings: each an object whose values have ModelSettings' types and ranges
    (stored in ``ModelSettings.to_json``'s shape, also when read in an earlier one)."""
    kept = {}
    for model, chosen in value.items():
        if not isinstance(chosen, dict):
            notes.append(f"the settings of {str(model)[:60]} are not a JSON object")
            continue
        kept[model] = ModelSettings.tolerant(chosen, notes, f" for {str(model)[:60]}")
    return kept


def _sampling(raw: dict[str, Any], notes: list[str]) -> Sampling:
    """The sampling values: under "sampling", or at the top level in a file of schema 1."""
    stored = raw.get("sampling", raw)
    if not isinstance(stored, dict):
        notes.append(f"sampling was {json.dumps(stored)[:40]}, not a JSON object")
        return Sampling()
    return Sampling(**Sampling.tolerant(stored, notes))


def _parse(raw: Any, notes: list[str]) -> Settings:
    if not isinstance(raw, dict):
        raise Damaged("it is not a JSON object")
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "sampling":  # also read from the top level of a file of schema 1
            values["sampling"] = _sampling(raw, notes)
            continue
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


# Out of range, a value goes back to its default.
RANGES: dict[str, Callable[[Any], object]] = {
    **limits.SETTING_RANGES,
    "api_port": lambda v: limits.whole(v, "The server port", 1, 65535),
    "comfortable_tok_s": lambda v: limits.number(v, "The comfortable speed", 0.5, 1000.0),
}


_KIND = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text",
    list: "a list of text",
    dict: "a JSON object",
}
