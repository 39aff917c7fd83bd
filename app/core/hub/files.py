"""Hub repos as Hearth describes them: search results, model details, files grouped by quant.

Files: one entry per downloadable model.

* ``Model-Q8_0-00001-of-00003.gguf`` .. ``-00003-of-00003.gguf`` are one model (its size is the sum);
* ``mmproj-*.gguf`` are vision projectors, listed apart (they are not models on their own);
* anything that is not ``.gguf`` (README, config, safetensors) is ignored.

Also: parameter counts read from names ("8B", "135M", "8x7B"), the size buckets Discover filters
by, the size range a repo's quants span when only its parameter count is known, and the fit
verdicts shown beside a repo's files (a search result's fit: ``hub_fit``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.core.config import presets
from app.core.downloads.store import is_safe_filename
from app.core.fit import estimate
from app.core.gguf import quant_types
from app.core.gguf.split import SPLIT
from app.core.hub.adapters import adapter_from_listing

if TYPE_CHECKING:
    from huggingface_hub import ModelInfo

    from app.core.fit.shape import ModelShape
    from app.core.hub.fit import FitBadge

_PARAMS = re.compile(
    r"(?<![A-Za-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)([BM])(?![A-Za-z0-9])", re.IGNORECASE
)

KIND_MODEL = "model"
KIND_PROJECTOR = "mmproj"

# Parameter-size buckets: label -> [low, high) in parameters.
SIZE_BUCKETS: dict[str, tuple[float, float]] = {
    "≤3B": (0, 3.05e9),
    "3-8B": (3.05e9, 8.5e9),
    "8-15B": (8.5e9, 15.5e9),
    ">15B": (15.5e9, float("inf")),
}


@dataclass(frozen=True)
class QuantFile:
    """One downloadable model (a file, or all shards of a split one) or a vision projector."""

    name: str  # the file to ask for: the file itself, or shard 1 of a split model
    quant: str | None
    files: tuple[str, ...]  # every file it takes, shards in order
    size_bytes: int
    kind: str = KIND_MODEL
    complete: bool = True  # False when shards are missing from the repo

    @property
    def parts(self) -> int:
        return len(self.files)

    @property
    def label(self) -> str:
        """The file name shown to users: shard suffixes dropped for split models."""
        base = self.name.rsplit("/", 1)[-1]
        match = SPLIT.match(base)
        return f"{match['stem']}.gguf" if match else base

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "quant": self.quant,
            "files": list(self.files),
            "size_bytes": self.size_bytes,
            "kind": self.kind,
            "parts": self.parts,
            "complete": self.complete,
        }


def is_projector(name: str) -> bool:
    return "mmproj" in name.rsplit("/", 1)[-1].lower()


def group_files(files: Iterable[tuple[str, int | None]]) -> tuple[list[QuantFile], list[QuantFile]]:
    """(models, projectors) from ``(file name, size)`` pairs; each list smallest-bits first."""
    singles: list[QuantFile] = []
    shards: dict[tuple[str, int], dict[int, tuple[str, int]]] = {}
    for name, size in files:
        base = name.rsplit("/", 1)[-1]
        if not base.lower().endswith(".gguf") or not is_safe_filename(name):
            continue  # a name that would leave the repo's folder is never listed nor offered
        kind = KIND_PROJECTOR if is_projector(name) else KIND_MODEL
        match = SPLIT.match(name)
        if match and int(match["parts"]) >= 1:
            key = (match["stem"], int(match["parts"]))
            shards.setdefault(key, {})[int(match["part"])] = (name, size or 0)
            continue
        singles.append(QuantFile(name, quant_types.quant_from_name(base), (name,), size or 0, kind))
    for (stem, parts), found in shards.items():
        names = tuple(found[i][0] for i in sorted(found))
        first = names[0]
        kind = KIND_PROJECTOR if is_projector(first) else KIND_MODEL
        singles.append(
            QuantFile(
                first,
                quant_types.quant_from_name(first.rsplit("/", 1)[-1]),
                names,
                sum(size for _, size in found.values()),
                kind,
                complete=sorted(found) == list(range(1, parts + 1)),
            )
        )
    singles.sort(key=lambda f: (f.size_bytes, f.name.lower()))
    return (
        [f for f in singles if f.kind == KIND_MODEL],
        [f for f in singles if f.kind == KIND_PROJECTOR],
    )


def projector_for(projectors: Iterable[QuantFile]) -> QuantFile | None:
    """The one projector to download with a model: the F16 one (what llama.cpp's own repos
    name as the default), else BF16, else the smallest; None when the repo has none."""
    complete = [p for p in projectors if p.complete]
    for precision in ("f16", "bf16"):
        for entry in complete:
            stem = entry.label.lower().removesuffix(".gguf")
            if re.split(r"[-_.]", stem)[-1] == precision:
                return entry
    return min(complete, key=lambda p: (p.size_bytes, p.name.lower()), default=None)


def params_from_name(name: str) -> int | None:
    """Parameters written in a model's name: ``Llama-3.1-8B`` -> 8e9, ``Mixtral-8x7B`` -> 56e9,
    ``SmolLM2-135M`` -> 135e6. The largest figure wins (``Qwen3-30B-A3B`` -> 30e9)."""
    best = None
    for experts, value, unit in _PARAMS.findall(name.replace("_", "-")):
        count = float(value) * (1e9 if unit.upper() == "B" else 1e6) * int(experts or 1)
        best = count if best is None else max(best, count)
    return int(best) if best else None


def size_bucket(parameters: int | None) -> str | None:
    if not parameters:
        return None
    return next(label for label, (low, high) in SIZE_BUCKETS.items() if low <= parameters < high)


def size_range(parameters: int | None, quant_names: Iterable[str]) -> tuple[int, int] | None:
    """Approximate file sizes of the smallest and largest quant, from the parameter count."""
    bits = [b for b in (quant_types.bits_per_weight(q) for q in quant_names) if b]
    if not parameters or not bits:
        return None
    return int(parameters * min(bits) / 8), int(parameters * max(bits) / 8)


def format_size_range(sizes: tuple[int, int] | None) -> str:
    """``~1.3–4.3 GB`` (estimated sizes of a repo's smallest and largest quant)."""
    if not sizes:
        return ""
    from app.core.common.units import format_size

    low, high = (format_size(n) for n in sizes)
    if low == high:
        return f"~{low}"
    (low_value, low_unit), high_unit = low.split(), high.split()[1]
    return f"~{low_value}–{high}" if low_unit == high_unit else f"~{low}–{high}"


def format_params(parameters: int | None) -> str:
    """``8030261248`` -> ``8.0B``, ``134515008`` -> ``135M``."""
    if not parameters:
        return ""
    if parameters >= 1e9:
        return f"{parameters / 1e9:.1f}B"
    return f"{parameters / 1e6:.0f}M"


# -- search results and model details -------------------------------------------------------------


@dataclass(frozen=True)
class HubModel:
    """A search result: what Discover shows in a row."""

    id: str
    author: str
    downloads: int = 0
    likes: int = 0
    last_modified: datetime | None = None
    tags: tuple[str, ...] = ()
    trending_score: int = 0
    parameters: int | None = None
    architecture: str | None = None
    context_length: int | None = None
    quants: tuple[str, ...] = ()  # smallest bits first
    size_range: tuple[int, int] | None = None  # estimated bytes of the smallest, largest quant
    gated: bool | str = False
    smallest_file: str = ""  # the smallest model file, when the listing gave file sizes
    smallest_bytes: int = 0  # its real size (all shards), 0 when unknown
    fit: FitBadge | None = field(default=None, compare=False)  # set by a "fits" search

    @property
    def adapter_of(self) -> str | None:
        """A LoRA adapter repo (by its listing's tags): the base model it is made for ("" when
        unnamed); None for a repo of models. It has no fit nor size of its own."""
        return adapter_from_listing(self.tags)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "downloads": self.downloads,
            "likes": self.likes,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
            "tags": list(self.tags),
            "trending_score": self.trending_score,
            "parameters": self.parameters,
            "architecture": self.architecture,
            "context_length": self.context_length,
            "quants": list(self.quants),
            "size_range": list(self.size_range) if self.size_range else None,
            "gated": self.gated,
            "smallest_file": self.smallest_file,
            "smallest_bytes": self.smallest_bytes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HubModel:
        when = data.get("last_modified")
        size = data.get("size_range")
        return cls(
            id=data["id"],
            author=data.get("author") or "",
            downloads=int(data.get("downloads") or 0),
            likes=int(data.get("likes") or 0),
            last_modified=datetime.fromisoformat(when) if when else None,
            tags=tuple(data.get("tags") or ()),
            trending_score=int(data.get("trending_score") or 0),
            parameters=data.get("parameters"),
            architecture=data.get("architecture"),
            context_length=data.get("context_length"),
            quants=tuple(data.get("quants") or ()),
            size_range=(int(size[0]), int(size[1])) if size else None,
            gated=data.get("gated") or False,
            smallest_file=str(data.get("smallest_file") or ""),
            smallest_bytes=int(data.get("smallest_bytes") or 0),
        )


@dataclass(frozen=True)
class ModelDetails:
    """What the model page shows."""

    model: HubModel
    sha: str | None
    card: str  # the README's Markdown, front matter removed ("" when there is none)
    card_note: str  # why the card is missing, if it is
    license: str | None
    files: tuple[QuantFile, ...]
    projectors: tuple[QuantFile, ...]
    base_model: str | None = None
    # A LoRA adapter repo: the base model it is made for ("" when the Hub does not say); None
    # for a repo of models (see ``hub.adapters``).
    adapter_of: str | None = None

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def gated(self) -> bool | str:
        return self.model.gated


def model_from_info(info: ModelInfo) -> HubModel:
    """A ``huggingface_hub.ModelInfo`` (from a listing or model_info) as a search result."""
    gguf = info.gguf if isinstance(info.gguf, dict) else {}
    models, _ = group_files((s.rfilename, s.size) for s in info.siblings or [])
    found = sorted(
        {f.quant for f in models if f.quant},
        key=lambda q: (quant_types.bits_per_weight(q) or 99, q),
    )
    params = _int(gguf.get("total")) or params_from_name(info.id)
    sized = [f for f in models if f.complete]
    smallest = sized[0] if sized and all(f.size_bytes for f in sized) else None  # sorted by size
    return HubModel(
        id=info.id,
        author=info.author or info.id.split("/")[0],
        downloads=info.downloads or 0,
        likes=info.likes or 0,
        last_modified=info.last_modified,
        tags=strings(info.tags),
        trending_score=int(info.trending_score or 0),
        parameters=params,
        architecture=gguf.get("architecture") or None,
        context_length=_int(gguf.get("context_length")),
        quants=tuple(found),
        size_range=size_range(params, found),
        gated=info.gated or False,
        smallest_file=smallest.name if smallest else "",
        smallest_bytes=smallest.size_bytes if smallest else 0,
    )


def details_from_info(info: ModelInfo, card: str, card_note: str) -> ModelDetails:
    """``model_info(files_metadata=True)`` and the README's text as the model page's content."""
    models, projectors = group_files((s.rfilename, s.size) for s in info.siblings or [])
    data = info.card_data
    license_name = getattr(data, "license", None) if data is not None else None
    if isinstance(license_name, list):
        license_name = ", ".join(map(str, license_name))
    if license_name == "other" and data is not None and data.license_name:
        license_name = data.license_name
    if not license_name:
        license_name = next(
            (t.split(":", 1)[1] for t in strings(info.tags) if t.startswith("license:")), None
        )
    base = getattr(data, "base_model", None) if data is not None else None
    return ModelDetails(
        model=model_from_info(info),
        sha=info.sha,
        card=_strip_front_matter(card),
        card_note=card_note,
        license=license_name,
        files=tuple(models),
        projectors=tuple(projectors),
        base_model=", ".join(strings(base))
        if isinstance(base, list)
        else (base if isinstance(base, str) else None),
        adapter_of=adapter_from_listing(strings(info.tags), data),
    )


def strings(value: object) -> tuple[str, ...]:
    """The texts of a listing's list (its tags, a card's base models): the Hub, a mirror or a
    card's YAML may give a number, null or a single text there, which listing must survive."""
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _strip_front_matter(card: str) -> str:
    if card.startswith("---"):
        end = card.find("\n---", 3)
        if end != -1:
            return card[end + 4 :].lstrip("\n")
    return card


def _int(value: Any) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


# -- fit -------------------------------------------------------------------------------------------


def fit_verdicts(
    entries: Iterable[QuantFile],
    machine: estimate.Machine,
    *,
    shape: ModelShape | None = None,
    n_ctx_train: int | None = None,
) -> dict[str, str]:
    """The fit verdict of each entry (by name) on ``machine`` at the default context."""
    return {
        name: estimate.plan(sized, machine, presets.context_length(0, sized.n_ctx_train)).verdict
        for name, sized in sized_shapes(entries, shape=shape, n_ctx_train=n_ctx_train).items()
    }


def sized_shapes(
    entries: Iterable[QuantFile], *, shape: ModelShape | None = None, n_ctx_train: int | None = None
) -> dict[str, ModelShape]:
    """Each entry's shape (by name) for the fit and speed estimates.

    ``shape`` (a ``ModelShape`` read from one file of the repo) gives the architecture: layers,
    attention, vocabulary. Each entry keeps it with its own size; without it, a typical model
    of that size is assumed."""
    shapes = {}
    for entry in entries:
        if shape is not None and shape.file_size == entry.size_bytes and shape.tensors:
            sized = shape
        elif shape is not None:
            sized = replace(
                shape,
                name=entry.name,
                file_size=entry.size_bytes,
                tensors=(),
                exact=False,
                quant=entry.quant,
            )
        else:
            sized = estimate.shape_from_size(entry.size_bytes, entry.name)
            if n_ctx_train:
                sized = replace(sized, n_ctx_train=n_ctx_train)
        shapes[entry.name] = sized
    return shapes
