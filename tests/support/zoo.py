"""The model zoo's tiny models as test fixtures (``app.bench.zoo``): one real, random-weight
GGUF per architecture, made once per machine beside the starter model and the quant ladder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bench.zoo import ARCH_NAMES, zoo_model


@pytest.fixture(scope="session")
def zoo_models(starter_gguf: Path) -> dict[str, Path]:
    """{architecture: the tiny Q8_0 zoo model's path} for every zoo architecture."""
    from tests.conftest import cache_root

    folder = cache_root() / "zoo"
    return {arch: zoo_model(arch, "tiny", "Q8_0", starter_gguf, folder).path for arch in ARCH_NAMES}


@pytest.fixture(scope="session")
def zoo_model_file(starter_gguf: Path):
    """Any one zoo model: ``zoo_model_file(arch, quant, size="tiny") -> Path``."""
    from tests.conftest import cache_root

    def make(arch: str, quant: str = "Q8_0", size: str = "tiny") -> Path:
        return zoo_model(arch, size, quant, starter_gguf, cache_root() / "zoo").path

    return make
