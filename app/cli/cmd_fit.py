"""hearth fit: will a model fit this machine, and how (GPU layers, largest context)?"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.core.common.errors import ModelNotFound
from app.core.common.paths import Paths, hf_hub_cache
from app.core.common.units import format_size
from app.core.config import limits, presets
from app.core.config.settings import Settings
from app.core.fit import estimate
from app.core.fit.shape import shape_from_hub
from app.core.fit.speed_here import SpeedHere
from app.core.hardware import probe
from app.core.library import catalog
from app.core.quants.pick import SPEED_DEPTH


def add_parser(commands):
    parser = commands.add_parser(
        "fit",
        help="Estimate the memory a model needs and how it fits this machine",
        description="Estimate the memory a GGUF model needs (weights, KV cache, compute) and "
        "say how it runs here. MODEL is a .gguf file, a name from 'hearth ls', or "
        "REPO/FILE on the Hugging Face Hub (only the file's header is read).",
    )
    parser.add_argument(
        "model", help="a .gguf path, a name from 'hearth ls', or owner/repo/file.gguf on the Hub"
    )
    parser.add_argument(
        "--ctx",
        type=limits.cli_context,
        default=None,
        help="context length in tokens (default: the model's, capped at 8192)",
    )
    parser.add_argument(
        "--kv",
        choices=list(estimate.KV_TYPES),
        default="f16",
        help="KV cache type (q8_0 and q4_0 use flash attention)",
    )
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag, commit)")
    parser.add_argument(
        "--comfortable",
        type=float,
        default=None,
        metavar="TOK_S",
        help="generation speed that counts as comfortable here, in tokens a second (default: "
        "the comfortable speed in the studio's settings, which its Recommended weighs)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def run(args, paths: Paths) -> int:
    shape, source = load_shape(args.model, paths, args.revision)
    if args.ctx is not None and args.ctx < 1:
        raise ModelNotFound("--ctx must be a positive number of tokens.")
    n_ctx = presets.context_length(args.ctx or 0, shape.n_ctx_train)
    report = probe.probe(paths.models_dir)
    result = estimate.plan(shape, estimate.Machine.from_report(report), n_ctx, args.kv)
    speed = None
    if result.verdict != estimate.VERDICT_TOO_LARGE:
        speeds = SpeedHere.for_report(report, paths.data_dir)
        speed = speeds.speed(
            shape, result.gpu_layers, min(SPEED_DEPTH, n_ctx), result.cpu_moe_layers
        )
    speed_json: dict[str, object] = (
        speed.to_json()
        if speed
        else {"gen_tok_s": None, "prompt_tok_s": None, "speed_basis": None, "speed_depth": None}
    )
    comfortable = args.comfortable or Settings.load(paths.settings_file).comfortable_tok_s
    speed_json["comfortable"] = speed.gen_tok_s >= comfortable if speed else None
    if args.json:
        data = {
            "model": shape.name,
            "source": source,
            "architecture": shape.architecture,
            "quant": shape.quant,
            "file_size_bytes": shape.file_size,
            "n_ctx_train": shape.n_ctx_train,
            **result.to_json(),
            **speed_json,
            "backend": report.backend,
        }
        print(json.dumps(data, indent=2))
        return 0
    e = result.estimate
    print(
        f"{shape.name}: {n_ctx} tokens of context, {args.kv} KV cache"
        + ("" if result.exact else " (estimated from the file size: header not readable)")
    )
    rows = [
        ("Weights", e.weights_bytes),
        ("Repacked", e.repack_bytes),
        ("KV cache", e.kv_cache_bytes),
        ("Compute", e.compute_bytes),
        ("Overhead", e.overhead_bytes),
        ("Total", e.total_bytes),
    ]
    for label, value in rows:
        if value or label != "Repacked":
            print(f"  {label:<9} {format_size(value):>9}")
    print(
        f"  RAM {format_size(e.ram_bytes)}, VRAM {format_size(e.vram_bytes)} "
        f"({report.backend} backend)"
    )
    print(f"Verdict: {result.verdict}")
    if speed is not None:
        print(
            f"Speed here: {speed.short} generating, ~{speed.prompt_tok_s:,.0f} tok/s reading "
            f"a prompt ({speed.basis}; generation with {speed.depth:,} tokens in the chat)"
        )
        if not speed_json["comfortable"]:
            print(
                f"Slower than your comfortable {comfortable:g} tokens a second "
                "(the studio's File > Settings, or --comfortable)"
            )
    print(
        f"GPU layers: {result.gpu_layers} of {result.offload_layers}; largest context that "
        f"fits: {result.max_ctx or 'none'}"
    )
    return 0


def load_shape(
    spec: str, paths: Paths, revision: str | None = None
) -> tuple[estimate.ModelShape, str]:
    """The model's shape from a local file, a library name, or the Hub (header only)."""
    from huggingface_hub import hf_hub_url

    path = Path(spec).expanduser()
    if path.is_file():
        return estimate.shape_from_file(path), str(path)
    try:
        path = catalog.resolve(spec, catalog.list_models(paths.models_dir, hf_hub_cache()))
        return estimate.shape_from_file(path), str(path)
    except ModelNotFound:
        parts = spec.strip("/").split("/")
        if len(parts) < 3 or not spec.lower().endswith(".gguf"):
            raise
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    print(f"Reading the header of {filename} from {repo_id}...", file=sys.stderr)
    shape = shape_from_hub(repo_id, filename, revision=revision)
    if not shape.exact:
        print("Its header could not be read: estimating from the file size.", file=sys.stderr)
    return shape, hf_hub_url(repo_id, filename, revision=revision)
