"""Model files that pass Hearth's own check and still make llama.cpp abort its process.

Sparse copies of the real starter model with one header value changed in place (same length):
``llama.block_count`` 0 (llama.cpp asserts on the layer count) and ``general.alignment`` 1 (it
asserts on the tensor data's alignment). What llama.cpp does with them is the point: the studio,
``hearth run`` and ``hearth serve`` must survive it.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.faults.gguf_forge import U32, real_copy, string


def _u32_entry(key: str, value: int) -> bytes:
    return string(key) + struct.pack("<II", U32, value)


def _patched(starter: Path, target: Path, key: str, new: int) -> Path:
    head = starter.read_bytes()[:8 << 20]
    prefix = string(key) + struct.pack("<I", U32)
    at = head.index(prefix) + len(prefix)
    old = struct.unpack("<I", head[at:at + 4])[0]
    return real_copy(starter, target, patch={_u32_entry(key, old): _u32_entry(key, new)})


def block_count_zero(starter: Path, folder: Path) -> Path:
    return _patched(starter, folder / "no-layers.gguf", "llama.block_count", 0)


def block_count_huge(starter: Path, folder: Path) -> Path:
    """``llama.block_count`` 2^32-1."""
    return _patched(starter, folder / "endless-layers.gguf", "llama.block_count", 2**32 - 1)


def head_count_zero(starter: Path, folder: Path) -> Path:
    return _patched(starter, folder / "no-heads.gguf", "llama.attention.head_count", 0)
