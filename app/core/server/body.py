"""Reading a request body sent in chunks (``Transfer-Encoding: chunked``), as some HTTP
clients send a body whose length they do not know beforehand. Bounded like a body with a
``Content-Length``: at most ``limit`` bytes of data, lines of at most ``MAX_LINE`` bytes."""

from __future__ import annotations

import io

from app.core.server.errors import ApiError

MAX_LINE = 1024  # a chunk's size line (with extensions), or one trailer line


def read_chunked(rfile: io.BufferedIOBase, limit: int) -> bytes:
    """The body's data; ``ApiError`` 400 when the chunks are malformed or end early, 413 when
    they carry more than ``limit`` bytes."""
    parts, total = [], 0
    while True:
        size = _size(_line(rfile))
        if size == 0:
            break
        total += size
        if total > limit:
            raise ApiError(
                413,
                f"The request body is more than {limit:,} bytes; this server takes at most "
                f"{limit:,}.",
                "request_too_large",
            )
        data = rfile.read(size)
        if len(data) < size or rfile.read(2) != b"\r\n":
            raise _bad("a chunk ended before its size")
        parts.append(data)
    while _line(rfile) not in (b"\r\n", b"\n"):  # trailers, up to the blank line
        pass
    return b"".join(parts)


def _line(rfile: io.BufferedIOBase) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise _bad("a chunk's size line is too long")
    if not line:
        raise _bad("the body ended before its last chunk")
    return line


def _size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()
    try:
        if not text or len(text) > 8:
            raise ValueError(text)
        return int(text, 16)
    except ValueError:
        raise _bad(f"{text[:20]!r} is not a chunk size") from None


def _bad(what: str) -> ApiError:
    return ApiError(400, f"The chunked request body is malformed: {what}.", "incomplete_body")
