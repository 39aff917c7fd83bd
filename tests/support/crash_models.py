"""Model files that pass Hearth's own check and still make llama.cpp abort its process.

A sparse copy of the real starter model with one header value changed in place (same length):
its newline token ``Ċ`` renamed ``th``, a token the vocabulary already has, so one text names
two tokens and llama.cpp stops at ``GGML_ASSERT(id_to_token.size() == token_to_id.size())``
while loading. Hearth's check reads only the tokenizer's length (reading 49,152 tokens for every
check would cost more than the check), so this file passes it. What llama.cpp does with it is
the point: the studio, ``hearth run``, ``hearth serve`` and ``hearth compare`` must survive it.

The header mutants below it (``block_count`` 0 or 2^32-1, no heads) are what Hearth's check
refuses now, before llama.cpp sees them; tests use them to prove that.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.faults.gguf_forge import U32, real_copy, string


def _u32_entry(key: str, value: int) -> bytes:
    return string(key) + struct.pack("<II", U32, value)


def _patched(starter: Path, target: Path, key: str, new: int) -> Path:
    head = starter.read_bytes()[: 8 << 20]
    prefix = string(key) + struct.pack("<I", U32)
    at = head.index(prefix) + len(prefix)
    old = struct.unpack("<I", head[at : at + 4])[0]
    return real_copy(starter, target, patch={_u32_entry(key, old): _u32_entry(key, new)})


def duplicate_token(starter: Path, folder: Path) -> Path:
    """The starter model with two tokens of the same text (see the module's docstring)."""
    return real_copy(
        starter, folder / "twice-named-token.gguf", patch={string(b"\xc4\x8a"): string(b"th")}
    )


def block_count_zero(starter: Path, folder: Path) -> Path:
    return _patched(starter, folder / "no-layers.gguf", "llama.block_count", 0)


def block_count_huge(starter: Path, folder: Path) -> Path:
    """``llama.block_count`` 2^32-1."""
    return _patched(starter, folder / "endless-layers.gguf", "llama.block_count", 2**32 - 1)


def head_count_zero(starter: Path, folder: Path) -> Path:
    return _patched(starter, folder / "no-heads.gguf", "llama.attention.head_count", 0)
