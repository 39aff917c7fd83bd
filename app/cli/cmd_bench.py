"""hearth bench: measurements printed as ratios taken side by side in one run."""

from __future__ import annotations

import json
import sys
from typing import Any

from app.core.common.errors import HearthError
from app.core.common.paths import Paths
from app.core.library import starter

KINDS = ("chat", "download", "fit", "speed", "compare", "start", "serve", "draft")


def add_parser(commands):
    parser = commands.add_parser(
        "bench",
        help="Measure speed, accuracy and overhead",
        description="Benchmarks: chat (app vs raw llama-cpp-python streaming, GUI stalls), "
        "download (app vs plain hf_hub_download, and Discover's search to 100 results painted), fit (estimated vs measured memory of the starter's ladder and the model zoo), "
        "speed (predicted vs measured generation speed of the starter model, its ladder and "
        "the model zoo), "
        "compare (time to measure a quant ladder), start (the studio's start against a bare "
        "PySide6 window), serve (16 and 64 streaming clients against hearth serve and "
        "llama-cpp-python's server), draft (generation speed with prompt-lookup drafting and "
        "without, on a revision that repeats the prompt and on free chat).",
    )
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--model",
        help="model file (chat, draft: default the starter model; download: the file "
        "served, default the starter model's Q8_0)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="chat: answers per side, taken in turns (default 8); start: starts of each (9); "
        "draft: rounds of each task, both sides in turns (5); speed: rounds of the probe then "
        "tokens per file (9)",
    )
    parser.add_argument("--tokens", type=int, default=512, help="chat, draft: tokens per answer")
    parser.add_argument(
        "--draft-model",
        metavar="FILE",
        help="draft: also measure drafting by this smaller model of the same family",
    )
    return parser


def _starter(paths: Paths):
    if not starter.is_installed(paths.models_dir):
        raise HearthError("The benchmarks use the starter model: run 'hearth setup' first.")
    return starter.starter_path(paths.models_dir)


def _ladder(paths: Paths) -> dict:
    from app.core.measure.ladder import build_ladder

    print("Preparing the quant ladder of the starter model (once)...", file=sys.stderr)
    return build_ladder(_starter(paths), paths.cache_dir / "bench-ladder")


def _zoo(paths: Paths, size: str, quants: tuple[str, ...]) -> list:
    from app.bench.zoo import build_zoo

    print(f"Preparing the model zoo ({size}: {', '.join(quants)}; once)...", file=sys.stderr)
    return [m.path for m in build_zoo(_starter(paths), paths.cache_dir / "bench-zoo", size, quants)]


def run(args, paths: Paths) -> int:
    result: dict[str, Any] | list[dict[str, Any]]  # printed as JSON with --json
    if args.kind == "chat":
        from pathlib import Path

        from app.bench.chat import format_chat_result, run_chat_benchmark

        result = run_chat_benchmark(
            Path(args.model) if args.model else _starter(paths),
            max_tokens=args.tokens,
            rounds=args.rounds or 8,
        )
        text = format_chat_result(result)
    elif args.kind == "download":
        from pathlib import Path

        from app.bench.discover import format_discover_result, run_loopback_discover_benchmark
        from app.bench.download import (
            format_download_result,
            run_loopback_download_benchmark,
        )

        source = Path(args.model) if args.model else _ladder(paths)["Q8_0"]
        result = run_loopback_download_benchmark(source)
        search = run_loopback_discover_benchmark()
        result |= {
            "search_rows": search["rows"],
            "search_rounds": search["rounds"],
            "search_first_screen_rows": search["first_screen_rows"],
            **{k: v for k, v in search.items() if k.startswith("search_to")},
        }
        text = f"{format_download_result(result)}\n{format_discover_result(search)}"
    elif args.kind == "fit":
        from app.bench.fit import format_fit_table, run_fit_benchmark

        zoo = _zoo(paths, "small", ("Q8_0", "Q4_K_M"))
        result = run_fit_benchmark([*_ladder(paths).values(), *zoo])
        text = format_fit_table(result)
    elif args.kind == "speed":
        from app.bench.speed import ROUNDS, format_speed_table, run_speed_benchmark

        ladder = _ladder(paths)
        zoo = [
            *_zoo(paths, "small", ("Q8_0", "Q4_K_M")),
            *_zoo(paths, "medium", ("Q8_0", "Q4_K_M")),
        ]
        result = run_speed_benchmark(
            [_starter(paths), *ladder.values(), *zoo],
            rounds=args.rounds or ROUNDS,
            progress=lambda line: print(line, file=sys.stderr),
        )
        text = format_speed_table(result)
    elif args.kind == "serve":
        from pathlib import Path

        from app.bench.serve import format_serve_result, run_serve_benchmark

        result = run_serve_benchmark(Path(args.model) if args.model else _starter(paths))
        text = format_serve_result(result)
    elif args.kind == "draft":
        from pathlib import Path

        from app.bench.draft import format_draft_result, run_draft_benchmark

        result = run_draft_benchmark(
            Path(args.model) if args.model else _starter(paths),
            rounds=args.rounds or 5,
            max_tokens=args.tokens,
            progress=lambda line: print(line, file=sys.stderr),
            draft_model=Path(args.draft_model) if args.draft_model else None,
        )
        text = format_draft_result(result)
    elif args.kind == "start":
        from app.bench.start import format_start_result, run_start_benchmark

        result = run_start_benchmark(rounds=args.rounds or 9)
        text = format_start_result(result)
    else:
        from app.bench.compare import format_compare_result, run_compare_benchmark

        result = run_compare_benchmark(_ladder(paths))
        text = format_compare_result(result)
    print(json.dumps(result, indent=2) if args.json else text)
    return 0
