"""Fixtures for the Compare tabs: real ladder quants in a Hearth models folder, the library."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.inference.types import SamplingOptions
from app.core.library import catalog
from app.ui.my_models.library_model import LibraryModel

ANSWER_MS = 180_000
# Short answers keep the tests fast; README screenshots (HEARTH_SCREENSHOTS) show longer ones.
SAMPLING = SamplingOptions(
    temperature=0.0, seed=1, max_tokens=96 if os.environ.get("HEARTH_SCREENSHOTS") else 16
)


def place(files: list[Path], models_dir: Path) -> list[Path]:
    """Hard-link real ladder files into Hearth's models folder (as if downloaded)."""
    folder = models_dir / "ladder"
    folder.mkdir(parents=True, exist_ok=True)
    placed = []
    for source in files:
        target = folder / source.name
        os.link(source, target)
        placed.append(target)
    return placed


def library_of(models_dir: Path) -> LibraryModel:
    model = LibraryModel()
    model.set_models(catalog.list_models(models_dir, models_dir / "no-hf-cache"))
    return model


@pytest.fixture
def two_quants(quant_ladder, hearth_home) -> list[Path]:
    return place([quant_ladder["Q8_0"], quant_ladder["Q4_K_M"]], hearth_home.models_dir)
