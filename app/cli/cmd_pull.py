"""hearth pull: download a model from the Hugging Face Hub into the Hugging Face cache."""

from __future__ import annotations

import json
import sys
from urllib.parse import urlsplit

from app.cli.progress import ProgressBar
from app.core.common.paths import Paths
from app.core.common.units import format_size
from app.core.downloads.downloader import Downloader, choose_file, hub_endpoint


def add_parser(commands):
    parser = commands.add_parser(
        "pull",
        help="Download a model from the Hugging Face Hub",
        description="Download a GGUF model into the Hugging Face cache, where other tools find it "
        "too. An interrupted download resumes where it stopped; the file is checked "
        "against the Hub's sha256. Honours HF_ENDPOINT, HF_TOKEN and HF_HOME.",
    )
    parser.add_argument("repo", help="a Hub repo (owner/name) or its web address")
    parser.add_argument(
        "file",
        nargs="?",
        help="a file of the repo, or a quant such as Q4_K_M (default: Q4_K_M, else "
        "the smallest file at Q4 quality or above)",
    )
    parser.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def run(args, paths: Paths) -> int:
    repo_id, file_from_url = parse_repo(args.repo)
    # HF_ENDPOINT is read now (huggingface_hub reads it at import); token: HF_TOKEN, else stored.
    downloader = Downloader(endpoint=hub_endpoint())
    _, files = downloader.repo_files(repo_id, args.revision)
    filename = choose_file({name: f.size for name, f in files.items()}, args.file or file_from_url)
    print(f"Downloading {filename} from {repo_id}", file=sys.stderr)
    try:
        with ProgressBar(filename.rsplit("/", 1)[-1][:40]) as bar:
            result = downloader.download(
                repo_id,
                filename,
                revision=args.revision,
                progress=lambda p: bar.update(p.done, p.total),
            )
    except KeyboardInterrupt:
        print("\nStopped. Run the same command again to resume where it stopped.", file=sys.stderr)
        raise
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(f"Ready: {result.path} ({format_size(result.size_bytes)})")
    return 0


def parse_repo(text: str) -> tuple[str, str | None]:
    """``owner/name`` from what a user typed or pasted, and a file when the address names one."""
    if "://" not in text:
        return text.strip().strip("/"), None
    parts = [p for p in urlsplit(text).path.split("/") if p]
    file = "/".join(parts[4:]) if len(parts) > 4 and parts[2] in ("blob", "resolve") else None
    return "/".join(parts[:2]), file
