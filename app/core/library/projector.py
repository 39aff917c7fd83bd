"""The image projector that goes with a model file: an mmproj GGUF beside it.

A vision model comes as two files, the text model and its image projector (``mmproj``); the
catalog lists only the model. Chat loads the projector with it when one lies in the same
folder, or anywhere in the same Hugging Face snapshot (a repo may keep the projector in a
sub-folder), or else in another snapshot of the same repo (a file downloaded at a later
commit lies in that commit's snapshot). With several, the obvious one: the precision llama.cpp's own repos ship first
(F16, then BF16, Q8_0, F32), then the name. A projector made for another model is passed
over: one whose header gives a width (``clip.vision.projection_dim``) other than the model's
(``<arch>.embedding_length``); a folder of many models (Hearth's own, a user's) may hold the
projector of one of them, and loaded with another it would be refused or crash llama.cpp.
The full GGUF check of the file happens when it is loaded (``check.check_projector``).
"""

from __future__ import annotations

import re
from pathlib import Path

from app.core.common.errors import ModelFileError
from app.core.gguf.header import read_local_header
from app.core.library.files import usable, walk

# Most repos ship one projector; some ship a few precisions. F16 is what llama.cpp's and
# ggml-org's repos name as the default, and what the zoo's pair uses.
_PREFERRED = ("f16", "bf16", "q8_0", "f32")


def is_projector_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".gguf") and "mmproj" in name


def find_projector(model: Path) -> Path | None:
    """The image projector for ``model`` (see the module docstring), or None."""
    model = Path(model)
    width = _width(model)
    found = [p for p in _beside(model.parent) if _fits(p, width)]
    snapshot = _snapshot_root(model)
    if not found and snapshot is not None:
        # Downloaded later, the projector sits in the snapshot of a newer commit of the repo.
        found = [p for p in walk(snapshot, is_projector_file) if _fits(p, width)] or [
            p for p in walk(snapshot.parent, is_projector_file) if _fits(p, width)
        ]
    return min(found, key=_rank) if found else None


def _width(model: Path) -> int | None:
    """The model's embedding width, None when its header does not say (or cannot be read)."""
    try:
        header = read_local_header(model)
    except ModelFileError:
        return None
    width = header.get(f"{header.architecture}.embedding_length")
    return width if type(width) is int else None


def _fits(projector: Path, width: int | None) -> bool:
    """False only when both headers give widths and they differ; an unreadable projector is
    kept, for its load to say what is wrong with it."""
    if width is None:
        return True
    try:
        dim = read_local_header(projector).get("clip.vision.projection_dim")
    except ModelFileError:
        return True
    return type(dim) is not int or dim == width


def _beside(folder: Path) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if is_projector_file(p) and usable(p)]


def _snapshot_root(model: Path) -> Path | None:
    """``.../snapshots/<revision>`` above ``model`` when it lies in the Hugging Face cache."""
    parents = model.parents
    for i, parent in enumerate(parents[:-1]):
        if parents[i + 1].name == "snapshots" and parents[i + 1].parent.name.startswith("models--"):
            return parent
    return None


def _rank(path: Path) -> tuple[int, str]:
    last = re.split(r"[-_.]", path.name.lower()[: -len(".gguf")])[-1]  # "mmproj-model-f16"
    order = _PREFERRED.index(last) if last in _PREFERRED else len(_PREFERRED)
    return order, path.name
