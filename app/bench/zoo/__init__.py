"""The model zoo: small random-weight GGUFs of the architectures people download, for the fit
and speed benchmarks and their tests.

Each model is written as F16 (``zoo.write``: random weights, the starter model's tokenizer,
tensor names and shapes as llama.cpp's loader asks for them, ``zoo.archs``) and quantized by
llama.cpp's own quantizer (``measure.ladder.quantize``). Files are made on demand and kept in a
cache folder (tests: ``~/.cache/hearth-tests/zoo``; ``hearth bench``: the app's cache), never
in the repository. ``VERSION`` names the folder, so a change to the generator makes new files.

Sizes: ``tiny`` for tests (a few MB, made in a second or two), ``small`` (~50M parameters)
and ``medium`` (~300M) for the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.bench.zoo.archs import ARCHS, Dims

VERSION = "v1"
SIZES = {
    "tiny": Dims(128, 6, 384, 4, 2, 32, n_expert=4, n_expert_used=2, n_ff_exp=128),
    "small": Dims(512, 8, 1536, 8, 4, 64, n_expert=8, n_expert_used=2, n_ff_exp=512),
    "medium": Dims(1024, 16, 4096, 16, 4, 64, n_expert=8, n_expert_used=2, n_ff_exp=512),
}
ARCH_NAMES = tuple(ARCHS)


@dataclass(frozen=True)
class ZooModel:
    arch: str
    size: str
    quant: str
    path: Path


def zoo_model(
    arch: str, size: str, quant: str, starter: Path, folder: Path, threads: int = 2
) -> ZooModel:
    """One zoo file, made if missing (its F16 source first)."""
    from app.bench.zoo.write import write_model
    from app.core.measure.ladder import quantize

    if arch not in ARCHS or size not in SIZES:
        raise ValueError(f"No zoo model {arch!r} of size {size!r}")
    folder = Path(folder) / VERSION
    folder.mkdir(parents=True, exist_ok=True)
    f16 = folder / f"zoo-{arch}-{size}-F16.gguf"
    if not f16.exists():
        write_model(arch, SIZES[size], starter, f16)
    path = folder / f"zoo-{arch}-{size}-{quant}.gguf"
    if quant != "F16" and not path.exists():
        quantize(f16, path, quant, threads)
    return ZooModel(arch, size, quant, path)


def build_zoo(
    starter: Path,
    folder: Path,
    size: str,
    quants: tuple[str, ...] = ("Q8_0",),
    archs: tuple[str, ...] = ARCH_NAMES,
) -> list[ZooModel]:
    """Every ``archs`` model of ``size`` in each of ``quants``, made if missing."""
    return [zoo_model(a, size, q, starter, folder) for a in archs for q in quants]
