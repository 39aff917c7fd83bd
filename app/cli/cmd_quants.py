"""hearth quants: the GGUF files of a Hub repo, grouped by quant, with how each fits here."""

from __future__ import annotations

import json
import sys

from app.cli.terminal import shown
from app.core.common.errors import HearthError, HubError
from app.core.common.paths import Paths
from app.core.common.units import format_size
from app.core.config import presets
from app.core.config.settings import Settings
from app.core.downloads.downloader import choose_file
from app.core.fit import estimate
from app.core.fit.shape import shape_from_hub
from app.core.fit.speed import Speed
from app.core.fit.speed_here import SpeedHere
from app.core.hardware import probe
from app.core.hub import files
from app.core.hub.client import HubClient, parse_repo_ref
from app.core.quants import pick
from app.core.quants.pick import SPEED_DEPTH, QuantItem


def add_parser(commands):
    parser = commands.add_parser(
        "quants",
        help="List a Hub repo's GGUF files by quant, with a fit estimate",
        description="List the GGUF files of a Hugging Face repo, one line per model (split "
        "files together, vision projectors apart), with their size and how each "
        "would run on this machine. Honours HF_ENDPOINT and HF_TOKEN.",
    )
    parser.add_argument("repo", help="owner/name or a huggingface.co link")
    parser.add_argument(
        "--comfortable",
        type=float,
        default=None,
        metavar="TOK_S",
        help="generation speed the recommended quant should reach here, in tokens a second "
        "(default: the comfortable speed in the studio's settings)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def run(args, paths: Paths) -> int:
    client = HubClient()
    repo_id = parse_repo_ref(args.repo, client.endpoint)
    if repo_id is None:
        raise HubError(f"'{args.repo}' is not a Hub model name: expected owner/name.")
    details = client.details(repo_id)
    report = probe.probe(paths.models_dir)
    machine = estimate.Machine.from_report(report)
    shape = None
    if details.files:
        try:
            shape = shape_from_hub(
                repo_id, details.files[0].name, revision=details.sha, endpoint=client.endpoint
            )
        except HearthError as exc:
            print(f"Estimating from file sizes only: {exc}", file=sys.stderr)
    shapes = files.sized_shapes(
        details.files, shape=shape, n_ctx_train=details.model.context_length
    )
    speeds = SpeedHere.for_report(report, paths.data_dir) if details.files else None
    comfortable = args.comfortable or Settings.load(paths.settings_file).comfortable_tok_s
    # The quant picker's rows and Recommended, at the model's own context (capped as chats are)
    n_ctx = presets.context_length(0, next(iter(shapes.values())).n_ctx_train) if shapes else 0
    items = [
        QuantItem(f.name, f.label, f.quant, f.size_bytes, shapes[f.name])
        for f in details.files
        if f.name in shapes
    ]
    table = pick.rows(items, machine, n_ctx, speeds=speeds)
    verdicts: dict[str, str] = {r.key: r.fit.verdict for r in table}
    speed_of: dict[str, Speed | None] = {r.key: r.speed for r in table}
    chosen = pick.pick(table, machine, n_ctx, comfortable)
    no_speed = {"gen_tok_s": None, "prompt_tok_s": None, "speed_basis": None}
    rows = [
        {
            **f.to_json(),
            "fit": verdicts.get(f.name),
            **(speed.to_json() if (speed := speed_of.get(f.name)) else no_speed),
            "recommended": f.name == chosen.key,
        }
        for f in details.files
    ]
    rows += [
        {**p.to_json(), "fit": None, **no_speed, "recommended": False} for p in details.projectors
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    info = details.model
    facts = [
        files.format_params(info.parameters)
        and f"{files.format_params(info.parameters)} parameters",
        info.architecture,
        info.context_length and f"{info.context_length:,} tokens of context",
        details.license and f"license {details.license}",
    ]
    print(f"{shown(repo_id)}: " + ", ".join(shown(f) for f in facts if f))
    if details.gated:
        print(
            "Gated: accept its conditions on the Hub, then log in with a token "
            "(hf auth login) to download.",
            file=sys.stderr,
        )
    if not details.files:
        print("This repo has no GGUF model files.")
        return 0
    width = max(len(shown(f.label)) for f in details.files) + 10
    print(
        f"{'QUANT':<8}  {'SIZE':>9}  {'FILE':<{width}}  {'SPEED HERE':>12}  FIT ({machine.backend})"
    )
    for f in details.files:
        name = shown(f.label) + (f" ({f.parts} parts)" if f.parts > 1 else "")
        speed = speed_of.get(f.name)
        print(
            f"{shown(f.quant or '?'):<8}  {format_size(f.size_bytes):>9}  {name:<{width}}  "
            f"{speed.short if speed else '—':>12}  {verdicts[f.name]}"
        )
    bases = sorted({s.basis for s in speed_of.values() if s})
    if bases:
        print(
            f"Speed here: generation tokens a second with {SPEED_DEPTH:,} tokens in the chat "
            f"({', '.join(bases)}; 'hearth fit' gives prompt speed too)."
        )
    for p in details.projectors:
        print(f"Vision projector: {shown(p.label)} ({format_size(p.size_bytes)})")
    print(("Recommended: " if chosen.key else "") + shown(chosen.reason))
    try:
        suggested = choose_file({f.name: f.size_bytes for f in details.files})
    except HearthError:  # several files of the default quant: let the user name one
        suggested = details.files[0].name
    quant = next((f.quant for f in details.files if f.name == suggested), None)
    print(f"\nDownload one: hearth pull {shown(repo_id)} {shown(quant or suggested)}")
    return 0
