"""hearth search: find GGUF models on the Hugging Face Hub."""

from __future__ import annotations

import json

from app.core.common.paths import Paths
from app.core.hub.client import SORTS, HubClient, HubModel, SearchQuery, age
from app.core.hub.files import format_params, format_size_range


def add_parser(commands):
    parser = commands.add_parser(
        "search",
        help="Search the Hugging Face Hub for GGUF models",
        description="Search the Hugging Face Hub for GGUF models by words, owner/name or a "
        "Hub link. Honours HF_ENDPOINT and HF_TOKEN.",
    )
    parser.add_argument(
        "query",
        nargs="?",
        default="",
        help="words, owner/name, or a huggingface.co link (empty: the most popular)",
    )
    parser.add_argument(
        "--sort",
        choices=list(SORTS),
        default="downloads",
        help="order of the results (default: downloads)",
    )
    parser.add_argument("--limit", type=int, default=20, help="how many results (default 20)")
    parser.add_argument("--author", default="", help="only this author's or organisation's")
    parser.add_argument("--arch", default="", help="only this architecture (llama, qwen3...)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def run(args, paths: Paths) -> int:
    limit = max(1, args.limit)
    pages = HubClient().search(
        SearchQuery(args.query, sort=args.sort, author=args.author, architecture=args.arch),
        page_size=min(limit, 100),
    )
    found: list[HubModel] = []
    while len(found) < limit and not pages.done:
        found += pages.next_page()
    found = found[:limit]
    if args.json:
        print(json.dumps([m.to_json() for m in found], indent=2))
        return 0
    if not found:
        print("No GGUF models match. Try other words.")
        return 0
    width = max(len(m.id) for m in found)
    print(
        f"{'MODEL':<{width}}  {'DOWNLOADS':>9}  {'LIKES':>6}  {'PARAMS':>7}  {'SIZES':<17}  UPDATED"
    )
    for m in found:
        sizes = format_size_range(m.size_range)
        print(
            f"{m.id:<{width}}  {m.downloads:>9,}  {m.likes:>6,}  "
            f"{format_params(m.parameters):>7}  {sizes:<17}  {age(m.last_modified)}"
        )
    print(f"\nSee a model's files: hearth quants {found[0].id}")
    return 0
