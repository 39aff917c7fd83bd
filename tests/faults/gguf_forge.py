"""Write GGUF files byte by byte with ``struct``, right or deliberately wrong, for fault tests.

    data = forge(kv=[("general.architecture", STRING, "llama")], tensors=[Tensor("w", (32, 4))])

Values are ``(key, type, value)``; arrays are ``(key, ARRAY, (item_type, [items]))``. Every field
that a malformed file gets wrong can be overridden: the magic, the version, the counts, a
tensor's dimension count, type and offset, the bytes of the data section. ``real_copy`` makes a
sparse copy of a real model with its header patched in place (same length), the weights as
holes, so a 100 MB model costs a few MB of disk.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_FORMATS = {
    U8: "B",
    I8: "b",
    U16: "H",
    I16: "h",
    U32: "I",
    I32: "i",
    F32: "f",
    BOOL: "?",
    U64: "Q",
    I64: "q",
    F64: "d",
}
F32_TYPE, F16_TYPE, Q8_0_TYPE = 0, 1, 8
_SIZES = {F32_TYPE: (1, 4), F16_TYPE: (1, 2), Q8_0_TYPE: (32, 34)}


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: int = F32_TYPE
    offset: int | None = None  # None: the next aligned offset after the previous tensor
    n_dims: int | None = None  # None: len(shape)

    @property
    def nbytes(self) -> int:
        block, size = _SIZES.get(self.ggml_type, (1, 4))
        count = 1
        for dim in self.shape:
            count *= dim
        return count // block * size


def string(text: str | bytes, length: int | None = None) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw) if length is None else length) + raw


def value(kind: int, data) -> bytes:
    if kind == STRING:
        return string(data)
    if kind == ARRAY:
        item_kind, items = data[0], data[1]
        count = data[2] if len(data) > 2 else len(items)  # a third element lies about the count
        body = b"".join(
            string(i) if item_kind == STRING else struct.pack("<" + _FORMATS[item_kind], i)
            for i in items
        )
        return struct.pack("<IQ", item_kind, count) + body
    return struct.pack("<" + _FORMATS[kind], data)


def model_kv(
    template: str | None = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
) -> list:
    """The metadata of a tiny llama-like model: architecture, sizes, a 4-token vocabulary."""
    kv = [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "Forged"),
        ("general.alignment", U32, 32),
        ("llama.context_length", U32, 64),
        ("llama.embedding_length", U32, 32),
        ("llama.block_count", U32, 1),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<unk>", "<s>", "</s>", "a"])),
        ("tokenizer.ggml.scores", ARRAY, (F32, [0.0, 0.0, 0.0, -1.0])),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [2, 3, 3, 1])),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("tokenizer.ggml.eos_token_id", U32, 2),
    ]
    if template is not None:
        kv.append(("tokenizer.chat_template", STRING, template))
    return kv


def model_tensors(extra_rows: int = 0) -> list[Tensor]:
    return [Tensor("token_embd.weight", (32, 4 + extra_rows)), Tensor("output_norm.weight", (32,))]


def forge(
    kv: list | None = None,
    tensors: list[Tensor] | None = None,
    *,
    magic: bytes = b"GGUF",
    version: int = 3,
    n_tensors: int | None = None,
    n_kv: int | None = None,
    raw_kv: bytes | None = None,
    alignment: int = 32,
    data_size: int | None = None,
    fill: bytes = b"\x00",
) -> bytes:
    """A whole GGUF file. ``raw_kv`` replaces the encoded metadata; ``data_size`` the length of
    the data section (default: what the tensors need, packed one after the other)."""
    kv = model_kv() if kv is None else kv
    tensors = model_tensors() if tensors is None else tensors
    head = magic + struct.pack(
        "<IQQ",
        version,
        len(tensors) if n_tensors is None else n_tensors,
        len(kv) if n_kv is None else n_kv,
    )
    body = (
        raw_kv
        if raw_kv is not None
        else b"".join(
            string(key) + struct.pack("<I", kind) + value(kind, data) for key, kind, data in kv
        )
    )
    infos, offset, needed = b"", 0, 0
    for tensor in tensors:
        at = offset if tensor.offset is None else tensor.offset
        dims = len(tensor.shape) if tensor.n_dims is None else tensor.n_dims
        infos += string(tensor.name) + struct.pack("<I", dims)
        infos += b"".join(struct.pack("<Q", d) for d in tensor.shape)
        infos += struct.pack("<IQ", tensor.ggml_type, at)
        offset = -(-(at + tensor.nbytes) // alignment) * alignment
        needed += -(-tensor.nbytes // alignment) * alignment
    header = head + body + infos
    header += b"\x00" * (-len(header) % alignment)
    size = needed if data_size is None else data_size
    return header + (fill * size)[:size]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def real_copy(
    source: Path, target: Path, *, patch: dict[bytes, bytes] | None = None, size: int | None = None
) -> Path:
    """A sparse copy of ``source``: its header (first 8 MB) with ``patch`` replacements of equal
    length, then holes up to ``size`` bytes (default: the real size)."""
    with open(source, "rb") as handle:
        head = handle.read(8 << 20)
    for old, new in (patch or {}).items():
        assert len(old) == len(new) and head.count(old) == 1, old[:40]
        head = head.replace(old, new)
    total = source.stat().st_size if size is None else size
    with open(target, "wb") as out:
        out.write(head[:total])
        out.truncate(total)
    return target


def same_length(text: str, length: int) -> str:
    """``text`` padded with a Jinja comment to exactly ``length`` bytes (UTF-8)."""
    pad = length - len(text.encode()) - len("{##}")
    assert pad >= 0, "the replacement is longer than the original"
    return text + "{#" + " " * pad + "#}"


def sparse_size(path: Path) -> int:
    """Bytes a file really takes on disk."""
    return os.stat(path).st_blocks * 512
