"""A process that downloads one file with Hearth's downloader, for kill tests.

Run: python -m tests.faults.download_child ENDPOINT REPO FILE
Prints ``progress <bytes>`` (at most ten times a second) while downloading, then ``done <path>``.
"""

import sys

from app.core.downloads.downloader import Downloader


def main() -> None:
    endpoint, repo, filename = sys.argv[1:4]

    def progress(p) -> None:
        print(f"progress {p.done}", flush=True)

    result = Downloader(endpoint=endpoint, token=False).download(repo, filename, progress=progress)
    print(f"done {result.path}", flush=True)


if __name__ == "__main__":
    main()
