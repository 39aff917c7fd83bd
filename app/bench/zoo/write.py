"""Write one zoo model: an F16 GGUF with random weights and the starter model's tokenizer.

Weights are drawn from a normal distribution (standard deviation 0.02, as models are
initialised before training), norms are ones and biases zeros, so a forward pass stays finite
and llama.cpp generates (meaningless) tokens. Tensors are drawn and written one at a time, so
a 500M-parameter model never sits in memory whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from app.bench.zoo.archs import ARCHS, Dims

FTYPE_F16 = 1
_SKIP_KEYS = ("GGUF.", "general.")
_PER_TOKEN = ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")


def tokenizer_fields(starter: Path) -> list[tuple[str, object, list]]:
    """The starter's ``tokenizer.*`` keys: (key, value, gguf value types)."""
    from gguf import GGUFReader

    reader = GGUFReader(starter)
    return [
        (key, field.contents(), list(field.types))
        for key, field in reader.fields.items()
        if key.startswith("tokenizer.")
    ]


def n_vocab(fields: list[tuple[str, Any, list[Any]]]) -> int:
    return next(len(value) for key, value, _ in fields if key == "tokenizer.ggml.tokens")


def write_model(
    arch: str,
    dims: Dims,
    starter: Path,
    target: Path,
    seed: int = 0,
    chat_template: str = "",
    vocab: int = 0,
) -> Path:
    """Write ``target`` (an F16 GGUF of ``arch`` at ``dims``); placed only when complete.
    ``chat_template`` replaces the starter's (the vision pair's takes images); ``vocab`` keeps
    only the starter's first tokens (a model of another vocabulary, which may not draft for
    the starter; 0: all of them)."""
    from gguf import GGUFValueType, GGUFWriter

    spec = ARCHS[arch]
    fields = tokenizer_fields(starter)
    if vocab:
        fields = [(k, _first(v, vocab) if k in _PER_TOKEN else v, t) for k, v, t in fields]
    vocab = n_vocab(fields)
    partial = target.with_name(target.name + ".part")
    writer = GGUFWriter(partial, arch)
    writer.add_name(f"Hearth zoo {arch} {target.stem}")
    writer.add_file_type(FTYPE_F16)
    for key, value in spec.keys(dims).items():
        _add_arch_key(writer, f"{arch}.{key}", value)
    for key, value, types in fields:
        if key.startswith(_SKIP_KEYS):
            continue
        sub_type = types[1] if types[0] == GGUFValueType.ARRAY else None
        if key == "tokenizer.chat_template" and chat_template:
            value = chat_template
        writer.add_key_value(key, value, types[0], sub_type=sub_type)
    tensors = spec.tensors(dims, vocab)
    for name, ne in tensors:
        shape = tuple(reversed(ne))
        dtype = np.float16 if _is_matrix(name, ne) else np.float32
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        writer.add_tensor_info(name, shape, np.dtype(dtype), nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(seed)
    for name, ne in tensors:
        writer.write_tensor_data(_values(rng, name, ne))
    writer.close()
    os.replace(partial, target)
    return target


def _first(values: object, count: int) -> list[Any]:
    """The first ``count`` of a per-token array's values."""
    assert isinstance(values, list)
    return values[:count]


def _add_arch_key(writer, key: str, value) -> None:
    from gguf import GGUFValueType

    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    else:  # per-layer values
        writer.add_key_value(key, list(value), GGUFValueType.ARRAY, sub_type=GGUFValueType.INT32)


def _is_matrix(name: str, ne: tuple[int, ...]) -> bool:
    """Weights llama.cpp multiplies by (F16 here, quantized later); the rest stays F32."""
    return (
        len(ne) >= 2
        and ne[0] >= 32
        and name.endswith(".weight")
        and "norm" not in name
        and "ssm_conv1d" not in name
    )


def _values(rng: np.random.Generator, name: str, ne: tuple[int, ...]) -> np.ndarray:
    shape = tuple(reversed(ne))
    if _is_matrix(name, ne):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)
    if "norm" in name or name.endswith("ssm_d"):
        return np.ones(shape, dtype=np.float32)
    if name.endswith("ssm_a"):  # A = -exp(A_log): negative, so the state decays
        return -rng.uniform(0.5, 4.0, shape).astype(np.float32)
    if name.endswith("ssm_conv1d.weight"):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.2).astype(np.float32)
    return np.zeros(shape, dtype=np.float32)  # biases, attention sinks
