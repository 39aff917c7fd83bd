"""hearth ls: list local models, each with the image projector Chat would load with it (the
``mmproj`` file beside it, ``library.projector``) after its source: ``+ mmproj-X-f16.gguf``."""

from __future__ import annotations

import json

from app.cli.terminal import shown
from app.core.common.paths import Paths
from app.core.common.units import format_size
from app.core.hub.files import format_params
from app.core.library import catalog
from app.core.library.projector import find_projector


def add_parser(commands):
    parser = commands.add_parser(
        "ls",
        help="List local models",
        description="List the GGUF models on this computer; files "
        "Hearth will not load are listed apart, with why "
        '(in --json, a "problem" key).',
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def run(args, paths: Paths) -> int:
    models = catalog.list_for_user(paths)
    if args.json:
        print(json.dumps([_json(m) for m in models], indent=2))
        return 0
    refused = [m for m in models if m.problem]
    models = [m for m in models if not m.problem]
    if not models:
        print("No local models. Run 'hearth setup' for the starter model.")
    else:
        _print_table(models)
    if refused:
        print(f"\nFiles Hearth will not load ({len(refused)}):")
        for m in refused:
            print(f"  {shown(m.name)}: {shown(m.problem or '')}")
    return 0


def _print_table(models: list) -> None:
    names = [shown(m.name) for m in models]
    width = max(len(n) for n in names)
    print(
        f"{'NAME':<{width}}  {'QUANT':<8}  {'SIZE':>9}  {'ARCH':<10} {'PARAMS':>7} "
        f"{'CONTEXT':>8}  SOURCE"
    )
    for m, name in zip(models, names, strict=True):
        print(
            f"{name:<{width}}  {shown(m.quant or '?'):<8}  {format_size(m.size_bytes):>9}  "
            f"{shown(m.architecture or '?'):<10} {format_params(m.parameters) or '?':>7} "
            f"{m.context_length or '?':>8}  {m.source}{_projector_suffix(m)}"
        )


def _json(model: catalog.LocalModel) -> dict:
    """A model's JSON with its image projector's path under "mmproj" (only where it has one)."""
    projector = find_projector(model.path)
    return model.to_json() | ({"mmproj": str(projector)} if projector else {})


def _projector_suffix(model: catalog.LocalModel) -> str:
    projector = find_projector(model.path)
    return f"  + {shown(projector.name)}" if projector else ""
