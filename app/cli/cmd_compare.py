"""hearth compare: measure quants of one model side by side (quality, speed, memory)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.cli.progress import ProgressBar
from app.core.common.errors import MeasureError
from app.core.common.paths import Paths, hf_hub_cache
from app.core.common.units import format_size
from app.core.gguf.check import check_file
from app.core.gguf.info import check_magic
from app.core.library import catalog
from app.core.measure.host import measure_in_host
from app.core.measure.llama_eval import prefer_passive_wait
from app.core.measure.measurement import MeasureSettings, MeasureText, finite
from app.core.measure.store import MeasureStore, measurements_db

MIN_TOKENS = 128


def add_parser(commands):
    parser = commands.add_parser(
        "compare",
        help="Measure quants of one model side by side",
        description="Measure 2-8 GGUF files of one model: perplexity and KL divergence "
        "against the largest (or F16) file, speed, load time and memory. "
        "Results are stored; a file is not measured twice on the same text.",
    )
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="GGUF files (paths, or names from 'hearth ls')"
    )
    parser.add_argument(
        "--text",
        type=Path,
        metavar="PATH",
        help="measure on this text file instead of Hearth's bundled text",
    )
    parser.add_argument(
        "--tokens",
        type=int,
        default=MeasureSettings.tokens,
        metavar="N",
        help="tokens of the text to evaluate (default: %(default)s; fewer is faster and rougher)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _resolve(specs: list[str], paths: Paths) -> list[Path]:
    models = None
    resolved = []
    for spec in specs:
        path = Path(spec).expanduser()
        if not path.exists() and (spec.lower().endswith(".gguf") or os.sep in spec):
            check_magic(path)  # "The model file ... does not exist."
        if not path.exists():
            if models is None:
                models = catalog.list_models(paths.models_dir, hf_hub_cache())
            path = catalog.resolve(spec, models)
        check_file(path)  # Hearth's own check, as for run and serve: nothing refused is measured
        resolved.append(path)
    return resolved


def run(args, paths: Paths) -> int:
    prefer_passive_wait()  # steady speeds when other programs take a core (see llama_eval)
    text = MeasureText.from_file(args.text) if args.text else None
    if args.tokens < MIN_TOKENS:
        raise MeasureError(f"--tokens must be at least {MIN_TOKENS}.")
    settings = MeasureSettings(tokens=args.tokens)
    files = _resolve(args.files, paths)
    store = MeasureStore(measurements_db(paths.data_dir))
    total_bytes = sum(f.stat().st_size for f in files if f.is_file()) or 1
    if args.json:
        comparison = measure_in_host(
            files, text, store=store, settings=settings, work_dir=paths.cache_dir
        )
        rows = [
            {k: finite(v) if isinstance(v, float) else v for k, v in row.to_json().items()}
            for row in comparison.rows
        ]
        print(json.dumps(rows, indent=2))
        return 0
    with ProgressBar("Measuring") as bar:
        # The bar counts model bytes: each step stands for an equal share of them.
        comparison = measure_in_host(
            files,
            text,
            store=store,
            settings=settings,
            work_dir=paths.cache_dir,
            progress=lambda step, total, _m: bar.update(
                int(total_bytes * step / max(total, 1)), total_bytes
            ),
        )
    _print_table(comparison)
    return 0


def _print_table(comparison) -> None:
    rows = comparison.rows
    width = max(len(r.name) for r in rows)
    print(
        f"Text: {comparison.text}, {rows[0].tokens} tokens scored; "
        f"KL divergence against {Path(comparison.reference).name}"
    )
    print(
        f"{'FILE':<{width}}  {'QUANT':<7} {'SIZE':>9} {'BPW':>5} {'PPL':>8} {'KLD':>8} "
        f"{'TOP%':>6} {'PROMPT':>7} {'TOK/S':>6} {'LOAD':>6} {'MEMORY':>9}"
    )
    for r in rows:
        mark = "*" if r.reference else " "
        print(
            f"{r.name:<{width}}  {r.quant or '?':<7} {format_size(r.size_bytes):>9} "
            f"{r.bits_per_weight:>5.2f} {r.ppl:>8.3f} {r.kld:>8.4f} {r.same_top_pct:>6.1f} "
            f"{r.prompt_tok_s:>7.0f} {r.tok_s:>6.1f} {r.load_s:>5.2f}s "
            f"{format_size(r.memory_bytes):>9}{mark}"
        )
    fresh = comparison.evaluated
    print(
        f"* reference. Measured {fresh} file(s) in {comparison.seconds:.1f} s"
        + (f"; {len(rows) - fresh} from earlier measurements." if fresh < len(rows) else ".")
    )
