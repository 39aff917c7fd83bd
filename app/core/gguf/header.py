"""A GGUF file's header (metadata and tensor list) without its weights, local or on the Hub.

``parse_header(prefix)`` reads the header from the first bytes of a file and raises
``TruncatedHeaderError`` when more bytes are needed. ``read_local_header(path)`` and
``read_remote_header(repo_id, filename)`` grow what they read until the header parses; the
remote one uses HTTP Range requests through huggingface_hub's HTTP client, so only the first
megabytes of a multi-gigabyte file travel.

Large arrays (the tokenizer's tokens and merges) are skipped; only their length is kept.
"""

from __future__ import annotations

import functools
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.common.errors import HubError, ModelFileError

if TYPE_CHECKING:  # huggingface_hub's HTTP client, imported when a remote header is read
    import httpx2

log = logging.getLogger("hearth.gguf_remote")

MAGIC = b"GGUF"
FIRST_BYTES = 2 * 1024 * 1024  # the first request; most headers are 1-8 MB (tokenizer)
MAX_HEADER_BYTES = 128 * 1024 * 1024
KEEP_ARRAY_ITEMS = 4096  # longer arrays keep only their length (per-layer arrays are short)
TIMEOUT_S = 30.0  # per request: connect, and between bytes
# Sane caps, far above real files (~50 keys, ~3,000 tensors, 260k-token vocabularies, a
# 50 kB chat template): a header beyond them is damaged or hostile, and refused before any
# loop or allocation its numbers would ask for. Keys: llama.cpp and llama-cpp-python take time
# growing faster than their count (a file of 65,535 tiny keys took 264 s to load), and per-layer
# values are arrays, so no real model comes near 1,024.
MAX_FIELDS = 1 << 10
MAX_TENSORS = 1 << 20
MAX_STRING_BYTES = 16 << 20
MAX_ARRAY_ITEMS = 1 << 27
MAX_DIMS = 4  # GGML_MAX_DIMS

# GGUF value types -> struct format (8 string, 9 array handled apart)
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}


class TruncatedHeaderError(Exception):
    """The bytes given end inside the header; ``needed`` is a lower bound of the bytes needed."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"GGUF header needs at least {needed} bytes")
        self.needed = needed


@dataclass(frozen=True)
class TensorInfo:
    name: str
    ggml_type: int
    shape: tuple[int, ...]  # ne[0], ne[1], ... (ne[0] is the row length)
    offset: int

    @property
    def n_elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def nbytes(self) -> int:
        block, size = type_size(self.ggml_type)
        return self.n_elements // block * size


@dataclass(frozen=True)
class GgufHeader:
    version: int
    fields: dict[str, object]
    tensors: tuple[TensorInfo, ...]
    data_offset: int  # where the weights start: the header's size in bytes
    array_lengths: dict[str, int] = field(default_factory=dict)
    # key -> GGUF value type, and for arrays (type 9) the items' type: (4,) u32, (9, 8) strings
    kinds: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def architecture(self) -> str:
        return str(self.fields.get("general.architecture") or "unknown")

    @property
    def file_type(self) -> int | None:
        value = self.fields.get("general.file_type")
        return value if type(value) is int else None

    @property
    def parameters(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def vocab_size(self) -> int | None:
        return self.array_lengths.get("tokenizer.ggml.tokens")


@dataclass(frozen=True)
class RemoteHeader:
    header: GgufHeader | None  # None when it could not be read (then only the size is known)
    file_size: int | None
    bytes_read: int
    url: str
    error: str = ""


# ggml type -> (elements per block, bytes per block), from ggml-common.h; others via ``gguf``
TYPE_SIZES = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 40),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
}


def type_size(ggml_type: int) -> tuple[int, int]:
    """(elements per block, bytes per block) of a ggml type."""
    if ggml_type in TYPE_SIZES:
        return TYPE_SIZES[ggml_type]
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        return GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise ModelFileError(
            f"The model uses tensor type {ggml_type}, unknown to this version of Hearth."
        ) from None


@functools.lru_cache(maxsize=64)
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct("<" + fmt)


class _Cursor:
    """Reads the header's values. ``limit``: the file's size, when known; a length that would
    run past it is a damaged header (not a prefix too short), reported with what claimed it."""

    def __init__(self, data: bytes | memoryview, limit: int | None = None) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.limit = limit

    def take(self, fmt: str) -> Any:
        packer = _struct(fmt)
        if self.pos + packer.size > len(self.data):
            raise TruncatedHeaderError(self.pos + packer.size)
        value = packer.unpack_from(self.data, self.pos)
        self.pos += packer.size
        return value if len(value) > 1 else value[0]

    def skip(self, size: int) -> None:
        if self.pos + size > len(self.data):
            raise TruncatedHeaderError(self.pos + size)
        self.pos += size

    def check_length(self, nbytes: int, what: str) -> None:
        """Refuse ``what`` when its ``nbytes`` cannot fit in the rest of the file."""
        if self.limit is not None and nbytes > self.limit - self.pos:
            raise ModelFileError(
                f"The GGUF header is damaged or cut short: {what} claims "
                f"{nbytes:,} bytes, but the file ends "
                f"{max(self.limit - self.pos, 0):,} bytes later."
            )

    def string(self, what: str = "a string") -> str:
        length = self.take("Q")
        if length > MAX_STRING_BYTES:
            raise ModelFileError(
                f"The GGUF header is damaged: {what} claims a string length of {length:,} bytes."
            )
        self.check_length(length, f"the string length of {what}")
        start = self.pos
        self.skip(length)
        return bytes(self.data[start : self.pos]).decode("utf-8", errors="replace")

    def skip_strings(self, count: int, key: str) -> None:
        """Skip ``count`` strings fast (a tokenizer has 50k-250k of them)."""
        data, pos, end = self.data, self.pos, len(self.data)
        limit = self.limit
        unpack = _struct("Q").unpack_from
        for _ in range(count):
            if pos + 8 > end:
                raise TruncatedHeaderError(pos + 8)
            length = unpack(data, pos)[0]
            if length > MAX_STRING_BYTES or (limit is not None and pos + 8 + length > limit):
                raise ModelFileError(
                    f"The GGUF header is damaged or cut short: a string in the "
                    f"array {key} claims a length of {length:,} bytes."
                )
            pos += 8 + length
        if pos > end:
            raise TruncatedHeaderError(pos)
        self.pos = pos

    def value(
        self, kind: int, key: str, lengths: dict[str, int], kinds: dict[str, tuple[int, ...]]
    ) -> Any:
        kinds[key] = (kind,)
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == 8:
            return self.string(f"the value of {key}")
        if kind != 9:
            raise ModelFileError(f"The GGUF header has a value of unknown type {kind} ({key}).")
        item_kind, count = self.take("I"), self.take("Q")
        kinds[key] = (kind, item_kind)
        if count > MAX_ARRAY_ITEMS:
            raise ModelFileError(
                f"The GGUF header is damaged: the array {key} claims {count:,} items."
            )
        lengths[key] = count
        if item_kind in _SCALARS:
            fmt = _SCALARS[item_kind]
            self.check_length(count * struct.calcsize(fmt), f"the array {key} ({count:,} items)")
            if count > KEEP_ARRAY_ITEMS:
                self.skip(count * struct.calcsize(fmt))
                return None
            if count <= 1:
                return [self.take(fmt)] if count else []
            return list(self.take(f"{count}{fmt}"))
        if item_kind == 8:
            self.check_length(count * 8, f"the array {key} ({count:,} strings)")
            if count <= KEEP_ARRAY_ITEMS:
                return [self.string(f"an item of {key}") for _ in range(count)]
            self.skip_strings(count, key)
            return None
        raise ModelFileError(f"The GGUF header has an array of unsupported type ({key}).")


def parse_header(data: bytes | memoryview, *, file_size: int | None = None) -> GgufHeader:
    """Parse a GGUF header from the first bytes of the file.

    Raises ``TruncatedHeaderError`` when more bytes are needed, ``ModelFileError`` when the
    header is not a GGUF one or is damaged: counts or lengths past the caps above (or, given
    ``file_size``, past the end of the file), a key twice, more than 4 dimensions, a bad
    ``general.alignment``.
    """
    cur = _Cursor(data, file_size)
    if len(cur.data) >= 4 and bytes(cur.data[:4]) != MAGIC:
        raise ModelFileError("This is not a GGUF model file (it does not start with 'GGUF').")
    cur.skip(4)
    version = cur.take("I")
    if version not in (2, 3) and int.from_bytes(struct.pack("<I", version), "big") in (2, 3):
        raise ModelFileError(
            "This GGUF file is big-endian; Hearth reads little-endian ones (the usual kind)."
        )
    if version not in (2, 3):
        raise ModelFileError(
            f"GGUF version {version} is not supported (Hearth reads versions 2 "
            "and 3; other numbers mean a big-endian, too old or damaged file)."
        )
    n_tensors, n_fields = cur.take("Q"), cur.take("Q")
    if n_fields > MAX_FIELDS:
        raise ModelFileError(f"The GGUF header is damaged: it claims {n_fields:,} metadata keys.")
    if n_tensors > MAX_TENSORS:
        raise ModelFileError(f"The GGUF header is damaged: it claims {n_tensors:,} tensors.")
    fields: dict[str, object] = {}
    lengths: dict[str, int] = {}
    kinds: dict[str, tuple[int, ...]] = {}
    for index in range(n_fields):
        key = cur.string(f"metadata key #{index + 1}")
        if key in fields:
            raise ModelFileError(f"The GGUF header is damaged: it has the key {key!r} twice.")
        fields[key] = cur.value(cur.take("I"), key, lengths, kinds)
    tensors = []
    for index in range(n_tensors):
        name = cur.string(f"the name of tensor #{index + 1}")
        n_dims = cur.take("I")
        if n_dims > MAX_DIMS:
            raise ModelFileError(
                f"The GGUF header is damaged: tensor {name!r} has {n_dims:,} "
                f"dimensions (at most {MAX_DIMS})."
            )
        shape = (
            tuple(cur.take(f"{n_dims}Q"))
            if n_dims > 1
            else ((cur.take("Q"),) if n_dims == 1 else ())
        )
        tensors.append(TensorInfo(name, cur.take("I"), shape, cur.take("Q")))
    alignment = fields.get("general.alignment", 32)
    if type(alignment) is not int or alignment < 1 or alignment & (alignment - 1):
        raise ModelFileError(
            f"The GGUF header is damaged: general.alignment is {alignment!r}, not a power of two."
        )
    data_offset = -(-cur.pos // alignment) * alignment
    return GgufHeader(version, fields, tuple(tensors), data_offset, lengths, kinds)


def read_local_header(path: Path, *, max_bytes: int = MAX_HEADER_BYTES) -> GgufHeader:
    """The header of a local GGUF file, reading only as much of it as needed (at most
    ``max_bytes``: a longer header is refused)."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"The model file {path} does not exist.")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a file.")
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            data = handle.read(min(size, FIRST_BYTES))
            while True:
                try:
                    return parse_header(data, file_size=size)
                except TruncatedHeaderError as exc:
                    if len(data) >= size:
                        raise ModelFileError(
                            f"{path.name} is truncated: its header is "
                            "incomplete. If it was downloaded, download it "
                            "again."
                        ) from None
                    if exc.needed > max_bytes:
                        raise ModelFileError(
                            f"{path.name} has a header longer than "
                            f"{max_bytes // 2**20} MB: it is damaged."
                        ) from None
                    want = min(size, max(exc.needed, 2 * len(data)))
                    data += handle.read(want - len(data))
    except OSError as exc:
        raise ModelFileError(f"The model file {path} cannot be read: {exc.strerror}.") from exc


def read_remote_header(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    first_bytes: int = FIRST_BYTES,
    max_bytes: int = MAX_HEADER_BYTES,
    session: httpx2.Client | None = None,
) -> RemoteHeader:
    """Read a Hub file's GGUF header with Range requests, growing the range until it parses.

    When the header cannot be parsed (not a GGUF, or longer than ``max_bytes``) the result has
    ``header=None`` and the file size, so callers can fall back to estimating from the size.
    Network and Hub errors (missing repo or file, gated repo) raise ``HubError``.
    """
    from huggingface_hub import get_session, hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    client = session or get_session()
    headers = build_hf_headers(token=token)
    data = b""
    file_size = None
    want = first_bytes
    while True:
        chunk, total = _fetch_range(client, url, headers, len(data), want, repo_id, filename)
        file_size = total or file_size
        data += chunk
        try:
            header = parse_header(data)
            log.info("Read the header of %s/%s from %d bytes", repo_id, filename, len(data))
            return RemoteHeader(header, file_size, len(data), url)
        except TruncatedHeaderError as exc:
            short_file = not chunk or (file_size is not None and len(data) >= file_size)
            if short_file or len(data) >= max_bytes:
                reason = (
                    "the file ends inside its header"
                    if short_file
                    else f"its header is longer than {max_bytes // 2**20} MB"
                )
                return RemoteHeader(None, file_size, len(data), url, reason)
            want = min(max_bytes, max(exc.needed, 2 * len(data)))
        except ModelFileError as exc:
            return RemoteHeader(None, file_size, len(data), url, str(exc))


def _fetch_range(
    client: httpx2.Client,
    url: str,
    headers: dict[str, Any],
    start: int,
    end: int,
    repo_id: str,
    filename: str,
) -> tuple[bytes, int | None]:
    """Bytes [start, end) of ``url`` and the file's total size when the server says it.

    A server that ignores Range (200) is read only up to ``end``, then the stream is closed.
    """
    import httpx2
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
    )
    from huggingface_hub.utils import hf_raise_for_status

    request_headers = {**headers, "Range": f"bytes={start}-{end - 1}"}
    try:
        with client.stream(
            "GET", url, headers=request_headers, follow_redirects=True, timeout=TIMEOUT_S
        ) as resp:
            if resp.status_code >= 400:
                resp.read()
                hf_raise_for_status(resp)
            total = _total_size(resp)
            skip = start if resp.status_code == 200 else 0
            wanted = end - start
            parts, got = [], 0
            for piece in resp.iter_bytes():
                if skip:
                    drop = min(skip, len(piece))
                    piece, skip = piece[drop:], skip - drop
                parts.append(piece)
                got += len(piece)
                if got >= wanted:
                    break
            return b"".join(parts)[:wanted], total
    except GatedRepoError as exc:
        raise HubError(
            f"{repo_id} is gated: accept its terms on the Hub and sign in with a token to read it."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise HubError(f"The Hub has no model repository {repo_id} (or it is private).") from exc
    except EntryNotFoundError as exc:
        raise HubError(f"{repo_id} has no file {filename}.") from exc
    except HfHubHTTPError as exc:
        raise HubError(f"The Hugging Face Hub answered with an error: {exc}") from exc
    except (httpx2.HTTPError, OSError) as exc:
        raise HubError(
            "Could not reach the Hugging Face Hub. Check the internet connection "
            f"and try again. ({exc.__class__.__name__})"
        ) from exc


def _total_size(resp: httpx2.Response) -> int | None:
    content_range = resp.headers.get("Content-Range", "")
    if "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    for name in ("X-Linked-Size", "Content-Length"):
        if resp.status_code == 200 and resp.headers.get(name, "").isdigit():
            return int(resp.headers[name])
    return None
