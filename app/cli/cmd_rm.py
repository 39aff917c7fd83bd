"""hearth rm: delete a local model (from the Hugging Face cache or Hearth's models folder)."""

from __future__ import annotations

import sys

from app.core import library
from app.core.download_store import remove_from_cache
from app.core.downloads import split_names
from app.core.errors import ModelNotFound
from app.core.paths import Paths, hf_hub_cache
from app.core.units import format_size

# Sources whose files Hearth owns or shares through the HF cache; anything else belongs to
# another app (LM Studio, Ollama, a user's folder) and is never deleted from here.
DELETABLE = {library.SOURCE_HF_CACHE, library.SOURCE_HEARTH, library.SOURCE_STARTER}


def add_parser(commands):
    parser = commands.add_parser(
        "rm", help="Delete a local model",
        description="Delete a model from the Hugging Face cache or Hearth's models folder. "
                    "Models in other apps' folders are never deleted, only reported.")
    parser.add_argument("model", help="a model name from 'hearth ls' (or part of one)")
    parser.add_argument("-y", "--yes", action="store_true", help="delete without asking")
    return parser


def run(args, paths: Paths) -> int:
    models = library.list_models(paths.models_dir, hf_hub_cache())
    path = library.resolve(args.model, models)
    model = next((m for m in models if m.path == path), None)
    if model is None:
        raise ModelNotFound(f"{path} is not a model of your library; Hearth only deletes the "
                            "models it lists.")
    if model.source not in DELETABLE:
        print(f"{model.name} belongs to another app ({model.source}: {model.path}). Hearth "
              "does not delete other apps' files; remove it there.", file=sys.stderr)
        return 1
    files = [model.path.with_name(name) for name in split_names(model.path.name)]
    files = [f for f in files if f.exists() or f.is_symlink()]
    size = sum(f.stat().st_size for f in files if f.exists())
    if not args.yes:
        if not sys.stdin.isatty():
            print("Not deleting without confirmation: add -y.", file=sys.stderr)
            return 1
        answer = input(f"Delete {model.name} ({format_size(size)}, {len(files)} file(s))? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.", file=sys.stderr)
            return 1
    if model.source == library.SOURCE_HF_CACHE:
        freed = remove_from_cache(files)
    else:
        for f in files:
            f.unlink()
        freed = size
    print(f"Deleted {model.name} ({format_size(freed)} freed).")
    return 0
