"""A fast GGUF header reader: scalar metadata, array lengths and the tensor list.

``gguf.GGUFReader`` builds a numpy view for every element of every array, which takes seconds
for a 50k-token vocabulary; comparing eight files or planning a quant needs only the scalars
and the tensors, read here with ``struct`` from a memory map in milliseconds.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import ModelFileError
from app.core.gguf_info import check_magic

# GGUF value types -> struct format (None: string, array)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    ggml_type: int
    n_elements: int
    shape: tuple[int, ...]


@dataclass(frozen=True)
class GgufHeader:
    path: Path
    metadata: dict  # scalar and string values
    array_lengths: dict  # key -> number of elements, for array values
    tensors: tuple[TensorInfo, ...] = field(repr=False)
    data_offset: int = 0  # where tensor data starts: the header's size


    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def file_type(self) -> int | None:
        value = self.metadata.get("general.file_type")
        return None if value is None else int(value)

    @property
    def parameters(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def vocab_size(self) -> int | None:
        return self.array_lengths.get("tokenizer.ggml.tokens")


class _Cursor:
    def __init__(self, data) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str):
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        raw = self.data[self.pos:self.pos + length]
        if len(raw) != length:
            raise ValueError("string runs past the end of the file")
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_array(self) -> int:
        item_type, count = self.unpack("<I"), self.unpack("<Q")
        if item_type in _SCALARS:
            self.pos += struct.calcsize(_SCALARS[item_type]) * count
        elif item_type == _STRING:  # a vocabulary: tens of thousands, keep the loop tight
            data, pos, length_at = self.data, self.pos, _U64.unpack_from
            for _ in range(count):
                pos += 8 + length_at(data, pos)[0]
            self.pos = pos
        elif item_type == _ARRAY:
            for _ in range(count):
                self.skip_array()
        else:
            raise ValueError(f"unknown array item type {item_type}")
        if self.pos > len(self.data):
            raise ValueError("array runs past the end of the file")
        return count


def read_header(path: Path) -> GgufHeader:
    """Read ``path``'s header. Raises ``ModelFileError`` for anything unreadable."""
    path = Path(path)
    check_magic(path)
    try:
        with open(path, "rb") as handle, \
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse(path, _Cursor(data))
    except (ValueError, struct.error, OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path.name} is damaged or truncated: {exc}") from exc


def _parse(path: Path, cur: _Cursor) -> GgufHeader:
    cur.pos = 4
    version = cur.unpack("<I")
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    n_tensors, n_kv = cur.unpack("<Q"), cur.unpack("<Q")
    metadata, arrays = {}, {}
    for _ in range(n_kv):
        key, kind = cur.string(), cur.unpack("<I")
        if kind in _SCALARS:
            metadata[key] = cur.unpack(_SCALARS[kind])
        elif kind == _STRING:
            metadata[key] = cur.string()
        elif kind == _ARRAY:
            arrays[key] = cur.skip_array()
        else:
            raise ValueError(f"unknown value type {kind} for {key}")
    tensors = []
    for _ in range(n_tensors):
        name = cur.string()
        shape = tuple(cur.unpack("<Q") for _ in range(cur.unpack("<I")))
        ggml_type = cur.unpack("<I")
        cur.unpack("<Q")  # offset
        count = 1
        for dim in shape:
            count *= dim
        tensors.append(TensorInfo(name, ggml_type, count, shape))
    align = int(metadata.get("general.alignment", 32)) or 32
    return GgufHeader(path=path, metadata=metadata, array_lengths=arrays,
                      tensors=tuple(tensors), data_offset=-(-cur.pos // align) * align)
