"""The library of local GGUF models: the starter model, Hearth's own models folder and the
Hugging Face cache (later also user folders and other tools' stores)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from app.core import quants, starter
from app.core.errors import ModelNotFound

log = logging.getLogger("hearth.library")

SOURCE_STARTER = "starter"
SOURCE_HEARTH = "hearth"
SOURCE_HF_CACHE = "hf-cache"


@dataclass(frozen=True)
class LocalModel:
    name: str
    path: Path
    quant: str | None
    size_bytes: int
    source: str
    repo_id: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def _is_model_file(path: Path) -> bool:
    name = path.name.lower()
    if not name.endswith(".gguf") or name.startswith("mmproj"):
        return False
    # Split models are listed once, by their first shard.
    return "-of-" not in name or "-00001-of-" in name


def _from_hearth_folder(models_dir: Path) -> list[LocalModel]:
    found = []
    if not models_dir.is_dir():
        return found
    starter_file = starter.starter_path(models_dir)
    for path in sorted(models_dir.rglob("*.gguf")):
        if not _is_model_file(path) or not path.is_file():
            continue
        is_starter = path == starter_file
        if is_starter and not starter.is_installed(models_dir):
            continue
        found.append(LocalModel(
            name=path.stem, path=path, quant=quants.quant_from_name(path.name),
            size_bytes=path.stat().st_size,
            source=SOURCE_STARTER if is_starter else SOURCE_HEARTH,
        ))
    return found


def _from_hf_cache(cache_dir: Path) -> list[LocalModel]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    if not cache_dir.is_dir():
        return []
    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return []
    found = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        seen: set[str] = set()
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            for cached in sorted(revision.files, key=lambda f: f.file_name):
                rel = str(cached.file_path.relative_to(revision.snapshot_path))
                if rel in seen or not _is_model_file(cached.file_path):
                    continue
                seen.add(rel)
                found.append(LocalModel(
                    name=f"{repo.repo_id}/{rel}", path=cached.file_path,
                    quant=quants.quant_from_name(cached.file_name), size_bytes=cached.size_on_disk,
                    source=SOURCE_HF_CACHE, repo_id=repo.repo_id,
                ))
    return found


def list_models(models_dir: Path, hf_cache: Path) -> list[LocalModel]:
    """Every local model, the starter model first."""
    models = _from_hearth_folder(models_dir) + _from_hf_cache(hf_cache)
    return sorted(models, key=lambda m: (m.source != SOURCE_STARTER, m.name.lower()))


def resolve(spec: str, models: list[LocalModel]) -> Path:
    """Turn what a user typed (a path, a name from ``hearth ls``, or part of one) into a file."""
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" and path.exists() or path.is_file():
        return path
    exact = [m for m in models if m.name == spec or m.name.lower() == spec.lower()]
    if exact:
        return exact[0].path
    partial = [m for m in models if spec.lower() in m.name.lower()]
    if len(partial) == 1:
        return partial[0].path
    if partial:
        names = ", ".join(m.name for m in partial[:5])
        raise ModelNotFound(f"'{spec}' matches several models: {names}. Give the full name.")
    raise ModelNotFound(
        f"No local model is called '{spec}'. See 'hearth ls' for the models you have."
    )
