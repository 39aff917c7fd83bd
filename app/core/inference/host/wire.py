"""The frames between Hearth and a host process: a 4-byte big-endian length, then UTF-8 JSON.

Hand-written because it is twelve lines: ``multiprocessing.connection`` pickles (a host must
never unpickle what a damaged peer sends) and needs handles, not the child's plain pipes.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

MAX_FRAME = 64 * 1024 * 1024  # a chat's messages; far above any sane request


class WireError(Exception):
    """The other side sent something that is not a frame."""


def write(stream: BinaryIO, message: dict[str, Any]) -> None:
    data = json.dumps(message, separators=(",", ":")).encode("utf-8")
    stream.write(len(data).to_bytes(4, "big") + data)
    stream.flush()


def read(stream: BinaryIO) -> dict[str, Any] | None:
    """The next frame, or None when the stream has ended."""
    header = _read_exact(stream, 4)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > MAX_FRAME:
        raise WireError(f"a frame of {size} bytes")
    data = _read_exact(stream, size)
    if data is None:
        return None
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise WireError("a frame that is not JSON") from exc
    if not isinstance(message, dict):
        raise WireError("a frame that is not an object")
    return message


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    parts, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
