"""One typed settings object, its defaults in one place, stored as JSON with a schema version."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from app.core.presets import DEFAULT_MAX_TOKENS, PRESETS

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
    # Window
    window_geometry: str = ""

    @classmethod
    def load(cls, path: Path) -> "Settings":
        """Read settings; a missing or damaged file gives defaults (and the damaged one is kept)."""
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("settings file is not a JSON object")
        except (OSError, ValueError) as exc:
            backup = path.with_suffix(".damaged.json")
            log.warning("Settings file %s could not be read (%s); kept as %s", path, exc, backup)
            os.replace(path, backup)
            return cls()
        known = {f.name: f for f in fields(cls)}
        values = {}
        for key, value in raw.items():
            if key not in known or key == "schema_version":
                continue
            default = getattr(cls(), key)
            same_type = isinstance(value, type(default)) and (
                isinstance(default, bool) or not isinstance(value, bool))
            widening = isinstance(default, float) and type(value) is int
            if same_type or widening:
                values[key] = value
            else:
                log.warning("Ignoring setting %s=%r (expected %s)", key, value,
                            type(default).__name__)
        return cls(**values)

    def save(self, path: Path) -> None:
        """Write atomically: a crash mid-write never leaves a half file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)
