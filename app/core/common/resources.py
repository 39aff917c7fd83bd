"""Where Hearth's shipped files (stylesheet, icons, data tables) are found.

In a source checkout they are in ``resources/`` beside ``app/``; in a bundled app they are in
the bundle (PyInstaller's ``sys._MEIPASS``); ``HEARTH_RESOURCES`` overrides both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    override = os.environ.get("HEARTH_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
