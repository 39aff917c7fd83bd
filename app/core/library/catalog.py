"""The library of local GGUF models, wherever they live.

Sources: the starter model and Hearth's own models folder, the Hugging Face cache, folders the
user adds, and, found automatically, LM Studio's models folders (``~/.lmstudio/models``,
``~/.cache/lm-studio/models``: ``publisher/repo/file.gguf``) and Ollama's store (``OLLAMA_MODELS``
or ``~/.ollama/models``: a manifest per ``name:tag`` naming its GGUF blob). Each model carries
what its GGUF header says (architecture, parameters, context length), read once per file
version (path, size, mtime) and remembered in a small JSON file in Hearth's cache folder, so
listing stays fast.

Hearth deletes only what it owns (its folder, the HF cache); another app's model or a user's
file is hidden from the list unless deleting the file is asked for explicitly.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.common.errors import LibraryError, ModelNotFound
from app.core.common.json_file import (
    Damaged,
    Loaded,
    decode,
    read_json,
    read_limited,
    write_json,
)
from app.core.common.units import format_size
from app.core.gguf import quant_types
from app.core.gguf.split import split_names
from app.core.library import starter
from app.core.library.files import size_of, usable, walk

if TYPE_CHECKING:
    from app.core.common.paths import Paths
    from app.core.config.settings import Settings

log = logging.getLogger("hearth.library")

SOURCE_STARTER = "starter"
SOURCE_HEARTH = "hearth"
SOURCE_HF_CACHE = "hf-cache"
SOURCE_FOLDER = "folder"
SOURCE_LMSTUDIO = "lmstudio"
SOURCE_OLLAMA = "ollama"
OWNED = frozenset({SOURCE_STARTER, SOURCE_HEARTH, SOURCE_HF_CACHE})  # Hearth may delete these
APP_NAMES = {SOURCE_LMSTUDIO: "LM Studio", SOURCE_OLLAMA: "Ollama", SOURCE_FOLDER: "your folder"}
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_REGISTRY = "registry.ollama.ai"
MANIFEST_BYTES = 1024 * 1024  # an Ollama manifest is ~1 KB


@dataclass(frozen=True)
class LocalModel:
    name: str
    path: Path  # the file to load (shard 1 of a split model)
    quant: str | None
    size_bytes: int  # all shards together
    source: str
    repo_id: str | None = None
    architecture: str | None = None
    parameters: int | None = None
    context_length: int | None = None
    files: tuple[Path, ...] = ()  # every file of the model; () means just ``path``
    problem: str | None = None  # why Hearth's check refuses the file (listed, not loadable)
    adapter_of: str | None = None  # a LoRA adapter: the base model it names ("" none), no model

    @property
    def all_files(self) -> tuple[Path, ...]:
        return self.files or (self.path,)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["files"] = [str(f) for f in self.all_files]
        if data["problem"] is None:  # only a file Hearth refuses carries "problem"
            del data["problem"]
        if data["adapter_of"] is None:  # only a LoRA adapter carries "adapter_of"
            del data["adapter_of"]
        return data


@dataclass(frozen=True)
class DeleteOutcome:
    message: str
    hidden: str | None = None  # a path to add to the hidden list (the file was kept)
    freed_bytes: int = 0


def _is_model_file(path: Path) -> bool:
    name = path.name.lower()
    if not name.endswith(".gguf") or "mmproj" in name:
        return False
    # Split models are listed once, by their first shard.
    return "-of-" not in name or "-00001-of-" in name


def _shards(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(n) for n in split_names(path.name) if usable(path.with_name(n)))


def _model(
    path: Path, name: str, source: str, repo_id: str | None = None, quant: str | None = None
) -> LocalModel:
    files = _shards(path) or (path,)
    return LocalModel(
        name=name,
        path=path,
        quant=quant or quant_types.quant_from_name(path.name),
        size_bytes=sum(size_of(f) for f in files),
        source=source,
        repo_id=repo_id,
        files=files,
    )


def _scan(folder: Path) -> list[Path]:
    return walk(folder, _is_model_file)


def _from_hearth_folder(models_dir: Path) -> list[LocalModel]:
    if not models_dir.is_dir():
        return []
    starter_file = starter.starter_path(models_dir)
    found = []
    for path in _scan(models_dir):
        is_starter = path == starter_file
        if is_starter and not starter.is_installed(models_dir):
            continue
        found.append(_model(path, path.stem, SOURCE_STARTER if is_starter else SOURCE_HEARTH))
    return found


def _from_hf_cache(cache_dir: Path) -> list[LocalModel]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    if not cache_dir.is_dir():
        return []
    for attempt in range(3):  # a repo folder removed while scanned: the next scan is whole
        try:
            info = scan_cache_dir(cache_dir)
            break
        except CacheNotFound:
            return []
        except OSError as exc:
            log.warning(
                "Could not scan the Hugging Face cache %s (try %d): %s", cache_dir, attempt + 1, exc
            )
    else:
        return []
    found = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        seen: set[str] = set()
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            for cached in sorted(revision.files, key=lambda f: f.file_name):
                rel = str(cached.file_path.relative_to(revision.snapshot_path))
                if (
                    rel in seen
                    or not _is_model_file(cached.file_path)
                    or not usable(cached.file_path)
                ):
                    continue
                seen.add(rel)
                found.append(
                    _model(cached.file_path, f"{repo.repo_id}/{rel}", SOURCE_HF_CACHE, repo.repo_id)
                )
    return found


def _from_folder(folder: Path, source: str = SOURCE_FOLDER) -> list[LocalModel]:
    """A user's folder (any layout), or LM Studio's (``publisher/repo/file.gguf``)."""
    if not folder.is_dir():
        return []
    found = []
    for path in _scan(folder):
        rel = path.relative_to(folder)
        if source == SOURCE_LMSTUDIO:
            repo_id = "/".join(rel.parts[:2]) if len(rel.parts) >= 3 else None
            found.append(_model(path, rel.as_posix(), source, repo_id))
        else:
            found.append(_model(path, path.stem, source))
    return found


def lmstudio_folders(home: Path) -> list[Path]:
    """LM Studio's models folders that exist: the current one and the pre-0.3 one."""
    return [
        f
        for f in (home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models")
        if f.is_dir()
    ]


def ollama_folder(home: Path, environ: Mapping[str, str]) -> Path | None:
    folder = (
        Path(environ["OLLAMA_MODELS"]).expanduser()
        if environ.get("OLLAMA_MODELS")
        else home / ".ollama" / "models"
    )
    return folder if (folder / "manifests").is_dir() else None


def _from_ollama(store: Path) -> list[LocalModel]:
    """One model per manifest (``manifests/HOST/NAMESPACE/MODEL/TAG``) whose model layer's blob
    (``blobs/sha256-...``) is here."""
    found = []
    for manifest in walk(store / "manifests", lambda p: True):
        parts = manifest.relative_to(store / "manifests").parts
        if len(parts) != 4:
            continue
        host, namespace, model, tag = parts
        try:  # Ollama's file: read with the same limits as Hearth's own, never moved
            data = decode(read_limited(manifest, MANIFEST_BYTES) or b"")
            layers = data.get("layers") or [] if isinstance(data, dict) else []
            if not isinstance(layers, list):
                raise Damaged("its layers are not a list")
        except (OSError, ValueError) as exc:
            log.warning("Skipping the unreadable Ollama manifest %s: %s", manifest, exc)
            continue
        digest = next(
            (
                layer.get("digest")
                for layer in layers
                if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER
            ),
            None,
        )
        blob = store / "blobs" / str(digest).replace(":", "-") if digest else None
        if blob is None or not usable(blob):
            continue
        prefix = (
            ""
            if host == OLLAMA_REGISTRY and namespace == "library"
            else f"{namespace}/"
            if host == OLLAMA_REGISTRY
            else f"{host}/{namespace}/"
        )
        found.append(
            LocalModel(
                name=f"{prefix}{model}:{tag}",
                path=blob,
                quant=None,
                size_bytes=size_of(blob),
                source=SOURCE_OLLAMA,
            )
        )
    return found


def list_models(
    models_dir: Path,
    hf_cache: Path,
    extra_folders: Iterable[str | Path] = (),
    *,
    hidden: Iterable[str] = (),
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    other_apps: bool = True,
    header_cache: HeaderCache | None = None,
    adapters: bool = False,
) -> list[LocalModel]:
    """Every local model, the starter model first; a file found twice is listed once.

    ``home`` (default: the user's) is where LM Studio and Ollama are looked for; ``hidden``
    paths are left out. Headers are read once per file version (``header_cache``). LoRA
    adapters (``adapter_of`` set) are listed too only with ``adapters``: they never load
    alone, and the studio's one scan hands them to Chat's adapter chooser."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else Path(home)
    models = _from_hearth_folder(models_dir) + _from_hf_cache(hf_cache)
    for folder in extra_folders:
        models += _from_folder(Path(folder).expanduser())
    if other_apps:
        for folder in lmstudio_folders(home):
            models += _from_folder(folder, SOURCE_LMSTUDIO)
        if (store := ollama_folder(home, environ)) is not None:
            models += _from_ollama(store)
    skip = {str(h) for h in hidden}
    unique: dict[str, LocalModel] = {}
    for model in models:
        key = os.path.realpath(model.path)
        if str(model.path) not in skip and key not in unique:
            unique[key] = model
    cache = header_cache or HeaderCache()
    described = [m for m in cache.describe_all(unique.values()) if adapters or m.adapter_of is None]
    return sorted(described, key=lambda m: (m.source != SOURCE_STARTER, m.name.lower()))


def list_for_user(
    paths: Paths, settings: Settings | None = None, *, adapters: bool = False
) -> list[LocalModel]:
    """The library as the user set it up: their added folders, without the hidden models
    (with the LoRA adapters found among them when ``adapters``)."""
    from app.core.common.paths import hf_hub_cache
    from app.core.config.settings import Settings

    settings = settings or Settings.load(paths.settings_file)
    return list_models(
        paths.models_dir,
        hf_hub_cache(),
        settings.model_folders,
        hidden=settings.hidden_models,
        header_cache=HeaderCache(paths.cache_dir / HeaderCache.FILE_NAME),
        adapters=adapters,
    )


class HeaderCache:
    """What GGUF headers say, per file version, kept in a JSON file (a cache: losing it only
    costs re-reading the headers)."""

    FILE_NAME = "model_headers.json"
    VERSION = 3  # 2: with the check's verdict ("problem"); 3: LoRA adapters ("adapter_of")

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from app.core.common.paths import default_paths

            path = default_paths().cache_dir / self.FILE_NAME
        self.path = Path(path)

    def describe_all(self, models: Iterable[LocalModel]) -> list[LocalModel]:
        """The models with architecture, parameters, context (and quant, if the name had
        none) filled in from their headers; unreadable headers leave them empty. A model whose
        first file Hearth's check refuses (it checks every part) carries the reason in
        ``problem``; a LoRA adapter, the base model it names in ``adapter_of``."""
        old = self._load()
        new: dict[str, dict[str, Any]] = {}
        result = []
        for model in models:
            facts = [self._facts(f, old, new) for f in model.all_files]
            head = facts[0]
            if "adapter_of" in head:  # a LoRA adapter goes with its model, never loads alone
                result.append(
                    replace(
                        model, architecture=head.get("architecture"), adapter_of=head["adapter_of"]
                    )
                )
                continue
            params = sum(f.get("parameters") or 0 for f in facts) or None
            result.append(
                replace(
                    model,
                    architecture=head.get("architecture"),
                    parameters=params,
                    context_length=head.get("context_length"),
                    problem=head.get("problem"),
                    quant=model.quant or quant_types.quant_from_file_type(head.get("file_type")),
                )
            )
        if new != old:
            self._save(new)
        return result

    def _facts(self, path: Path, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        try:
            stat = path.stat()
        except OSError:
            return {}
        key = str(path)
        entry = old.get(key)
        if not entry or (entry.get("size"), entry.get("mtime_ns")) != (
            stat.st_size,
            stat.st_mtime_ns,
        ):
            entry = {
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                **_read_header(path),
                **_verdict(path),
            }
        new[key] = entry
        return entry

    def _load(self) -> dict[str, Any]:
        loaded: Loaded[dict[str, Any]] = read_json(
            self.path, "The model header cache", _parse_headers, dict
        )
        if loaded.message:  # a cache: the headers are read again, nothing for the user to do
            log.info("%s", loaded.message)
        return loaded.value

    def _save(self, files: dict[str, Any]) -> None:
        try:
            write_json(
                self.path,
                {"version": self.VERSION, "checked_by": checker(), "files": files},
                indent=None,
            )
        except OSError as exc:
            log.warning("Could not save the model header cache %s: %s", self.path, exc)


_HEADER_KINDS: dict[str, type | tuple[type, ...]] = {
    "size": int,
    "mtime_ns": int,
    "architecture": (str, type(None)),
    "parameters": (int, type(None)),
    "context_length": (int, type(None)),
    "file_type": (int, type(None)),
    "error": str,
    "problem": str,
    "adapter_of": str,  # a LoRA adapter: its base model's name ("" when it names none)
}


def _parse_headers(raw: object, notes: list[str]) -> dict[str, Any]:
    """``{"version": 1, "files": {path: {size, mtime_ns, architecture, ...}}}``; an entry of
    the wrong shape is dropped (its header is read again)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
        raise Damaged("it is not a header cache")
    if raw.get("version") != HeaderCache.VERSION or raw.get("checked_by") != checker():
        return {}  # another version's cache, or verdicts of another check: rebuilt
    files = {}
    for key, entry in raw["files"].items():
        good = (
            isinstance(entry, dict)
            and all(
                k in _HEADER_KINDS and isinstance(v, _HEADER_KINDS[k]) and not isinstance(v, bool)
                for k, v in entry.items()
            )
            and isinstance(entry.get("size"), int)
        )
        if good:
            files[key] = entry
        else:
            notes.append(f"the entry of {key[:80]} is not a header record")
    return files


def _read_header(path: Path) -> dict[str, Any]:
    """The facts the library shows, from a GGUF header (only the header is read: the shared
    parser skips the tokenizer's long arrays, where the ``gguf`` package's reader takes
    seconds per file)."""
    from app.core.gguf import adapter
    from app.core.gguf.header import read_local_header

    try:
        header = read_local_header(path)
    except Exception as exc:  # noqa: BLE001 - any damaged file: listed without its facts
        log.info("Header of %s not readable: %s", path, exc)
        return {"error": str(exc)[:200]}
    arch = str(header.get("general.architecture") or "") or None
    ctx = header.get(f"{arch}.context_length") if arch else None
    file_type = header.get("general.file_type")
    facts: dict[str, Any] = {
        "architecture": arch,
        "parameters": sum(t.n_elements for t in header.tensors) or None,
        "context_length": int(ctx) if isinstance(ctx, int) else None,
        "file_type": int(file_type) if isinstance(file_type, int) else None,
    }
    if adapter.is_adapter(header):
        facts["adapter_of"] = adapter.adapter_info(header).base_model
    return facts


@functools.cache
def checker() -> str:
    """Who gave the cached verdicts: this Hearth with this llama.cpp. A file refused by an
    older check (an architecture llama.cpp did not know yet) is checked again after an update,
    not refused until the file itself changes."""
    from importlib import metadata

    from app import __version__

    try:
        llama = metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        llama = "none"
    return f"hearth {__version__}, llama-cpp-python {llama}"


def _verdict(path: Path) -> dict[str, Any]:
    """``{"problem": sentence}`` when Hearth's check refuses the file (the same check run,
    serve, the studio, fit and compare use), else ``{}``. Later parts of a split model are
    checked with their first part."""
    from app.core.gguf.check import problem_of

    if "-of-" in path.name.lower() and "-00001-of-" not in path.name.lower():
        return {}
    try:
        problem = problem_of(path)
    except Exception as exc:  # noqa: BLE001 - a listing never fails on one file
        log.warning("Could not check %s: %s", path, exc)
        problem = f"Hearth could not check {path.name}: {exc}"
    return {"problem": problem[:1000]} if problem else {}


def delete_model(model: LocalModel, *, delete_file: bool = False) -> DeleteOutcome:
    """Delete a model Hearth owns; hide another app's or a user's model from the list, or,
    with ``delete_file``, delete that file too (never Ollama's shared blobs)."""
    files = [f for f in model.all_files if f.exists() or f.is_symlink()]
    size = sum(f.stat().st_size for f in files if f.exists())
    try:
        if model.source == SOURCE_HF_CACHE:
            freed = _delete_from_hf_cache(model, files)
            return DeleteOutcome(
                f"Deleted {model.name} from the Hugging Face cache: {format_size(freed)} freed.",
                freed_bytes=freed,
            )
        if model.source in OWNED:
            for f in files:
                f.unlink()
            return DeleteOutcome(
                f"Deleted {model.name}: {format_size(size)} freed.", freed_bytes=size
            )
        app = APP_NAMES.get(model.source, model.source)
        if not delete_file:
            return DeleteOutcome(
                f"Removed {model.name} from Hearth's list. The file was not deleted: it is "
                f"still at {model.path} ({app}).",
                hidden=str(model.path),
            )
        if model.source == SOURCE_OLLAMA:
            raise LibraryError(
                f"Hearth does not delete Ollama's files: other Ollama models may "
                f"share them. Run 'ollama rm {model.name}' instead."
            )
        for f in files:
            f.unlink()
    except OSError as exc:
        raise LibraryError(
            f"Could not delete {model.name}: {exc.strerror or exc}. Check that "
            "no other program is using it, then try again."
        ) from exc
    where = "" if model.source == SOURCE_FOLDER else f" {app} will no longer find it."
    return DeleteOutcome(
        f"Deleted the file {model.path} ({format_size(size)} freed).{where}", freed_bytes=size
    )


def _delete_from_hf_cache(model: LocalModel, files: list[Path]) -> int:
    """Exactly the model's files in its own repo folder: each snapshot file, and its blob when
    no other snapshot of the repo uses it; return the bytes freed.

    Not ``scan_cache_dir(...).delete_revisions(commit)``: that selects revisions by commit hash
    over the whole cache, so another repo with a revision of the same hash lost its files and
    the size freed was theirs."""
    from app.core.downloads.store import remove_from_cache

    repo_dir = next((p for p in model.path.parents if p.name.startswith("models--")), None)
    if (
        repo_dir is None
        or repo_dir.parent.name == ""
        or any(repo_dir not in f.parents for f in files)
    ):
        raise LibraryError(f"{model.path} is not in a Hugging Face cache folder.")
    return remove_from_cache(files)


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
