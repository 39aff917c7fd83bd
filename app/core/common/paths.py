"""Where Hearth keeps its files.

Everything Hearth writes of its own (settings, chats, logs, the model library index and its
own models folder) lives under platformdirs' user folders, or under one folder when the
environment variable ``HEARTH_HOME`` is set. Models downloaded from the Hub stay in the
standard Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``) so other tools share them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "Hearth"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def models_dir(self) -> Path:
        """Hearth's own models folder (starter model, quants made by Hearth)."""
        return self.data_dir / "models"

    @property
    def starter_dir(self) -> Path:
        return self.models_dir / "starter"

    @property
    def chats_db(self) -> Path:
        return self.data_dir / "chats.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "hearth.log"

    def ensure(self) -> Paths:
        for folder in (self.config_dir, self.data_dir, self.cache_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def default_paths(environ: dict[str, str] | None = None) -> Paths:
    """The folders for this user, honouring ``HEARTH_HOME``."""
    env = os.environ if environ is None else environ
    home = env.get("HEARTH_HOME")
    if home:
        root = Path(home).expanduser().absolute()
        return Paths(
            config_dir=root / "config",
            data_dir=root / "data",
            cache_dir=root / "cache",
            log_dir=root / "logs",
        )
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


def hf_hub_cache(environ: dict[str, str] | None = None) -> Path:
    """The Hugging Face hub cache folder, resolved as huggingface_hub resolves it.

    Read from the environment each time (huggingface_hub reads it once, at import).
    """
    env = os.environ if environ is None else environ
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"
