"""hearth pull: download a model from the Hugging Face Hub into the Hugging Face cache.

A vision model's repo also holds its image projector (``mmproj-*.gguf``): it is fetched with the
model (the same one Discover picks, ``hub.files.projector_for``) so that Chat and ``hearth run``
find it beside the model, unless ``--no-mmproj``. A file already in the cache is not fetched again.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urlsplit

from app.cli.progress import ProgressBar
from app.core.common.paths import Paths
from app.core.common.units import format_size
from app.core.downloads.downloader import Downloader, DownloadResult, choose_file, hub_endpoint
from app.core.hub.files import group_files, is_projector, projector_for

PROJECTOR = " (image projector)"


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
    parser.add_argument(
        "--no-mmproj",
        action="store_true",
        help="leave out the image projector a vision model's repo holds (then it chats "
        "in text only)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def run(args, paths: Paths) -> int:
    repo_id, file_from_url = parse_repo(args.repo)
    # HF_ENDPOINT is read now (huggingface_hub reads it at import); token: HF_TOKEN, else stored.
    downloader = Downloader(endpoint=hub_endpoint())
    commit, files = downloader.repo_files(repo_id, args.revision)
    sizes = {name: f.size for name, f in files.items()}
    filename = choose_file(sizes, args.file or file_from_url)
    projector = None
    if not args.no_mmproj and not is_projector(filename):
        projector = projector_for(group_files(sizes.items())[1])
    try:
        result = _fetch(downloader, repo_id, filename, args.revision, commit)
        extra = None
        if projector is not None:
            extra = _fetch(downloader, repo_id, projector.name, args.revision, commit, PROJECTOR)
    except KeyboardInterrupt:
        print("\nStopped. Run the same command again to resume where it stopped.", file=sys.stderr)
        raise
    if args.json:
        # the model's result as before, its projector's under "mmproj" (null: none fetched)
        print(json.dumps({**result.to_json(), "mmproj": extra and extra.to_json()}, indent=2))
    else:
        print(f"Ready: {result.path} ({format_size(result.size_bytes)})")
        if extra is not None:
            print(f"Image projector: {extra.path} ({format_size(extra.size_bytes)})")
    return 0


def _fetch(
    downloader: Downloader,
    repo_id: str,
    filename: str,
    revision: str,
    commit: str,
    what: str = "",
) -> DownloadResult:
    """One file (all shards of a split one); one the cache holds already at ``commit`` (what
    ``revision`` names now) is said and not fetched again (the downloader skips it)."""
    if downloader.cached(repo_id, filename, commit) is not None:
        print(f"Already downloaded: {filename}{what}", file=sys.stderr)
    else:
        print(f"Downloading {filename}{what} from {repo_id}", file=sys.stderr)
    with ProgressBar(filename.rsplit("/", 1)[-1][:40]) as bar:
        return downloader.download(
            repo_id, filename, revision=revision, progress=lambda p: bar.update(p.done, p.total)
        )


def parse_repo(text: str) -> tuple[str, str | None]:
    """``owner/name`` from what a user typed or pasted, and a file when the address names one."""
    if "://" not in text:
        return text.strip().strip("/"), None
    parts = [p for p in urlsplit(text).path.split("/") if p]
    file = "/".join(parts[4:]) if len(parts) > 4 and parts[2] in ("blob", "resolve") else None
    return "/".join(parts[:2]), file
