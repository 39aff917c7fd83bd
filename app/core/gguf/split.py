"""The file names of a model split into parts (``NAME-00001-of-00003.gguf``).

llama.cpp loads such a model from its first part and finds the others by these names, so the
downloader fetches every part, the check reads every part and the Hub's file table and the
library show the parts as one model.
"""

from __future__ import annotations

import re

SPLIT = re.compile(r"^(?P<stem>.+)-(?P<part>\d{5})-of-(?P<parts>\d{5})\.gguf$", re.IGNORECASE)


def split_names(filename: str) -> list[str]:
    """All shards of a split model named by any one of them; ``[filename]`` otherwise."""
    match = SPLIT.match(filename)
    if not match or not 1 <= int(match["parts"]) <= 999:
        return [filename]
    stem, parts = match["stem"], match["parts"]
    return [f"{stem}-{i:05d}-of-{parts}.gguf" for i in range(1, int(parts) + 1)]
