"""The shape of a model as the fit estimate needs it, read from a GGUF header.

Per-layer attention heads (an int or a per-layer array in the metadata), key/value head sizes,
sliding-window layers, recurrent-state sizes and the tensor list; or, when only a file size is
known, a typical transformer of that size (``exact`` False).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.common.errors import HubError, InvalidModelFile
from app.core.gguf import quant_types
from app.core.gguf.header import GgufHeader, TensorInfo, read_local_header, read_remote_header

log = logging.getLogger("hearth.fit")

# Sliding-window layer patterns llama.cpp uses when the file does not say (src/models/*.cpp)
SWA_PATTERNS = {
    "gemma2": 2,
    "gemma3": 6,
    "gemma3n": 5,
    "cohere2": 4,
    "llama4": 4,
    "gpt-oss": 2,
    "exaone4": 4,
    "olmo2": 4,
}


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs from a GGUF header (``exact`` False: guessed from the size)."""

    name: str
    architecture: str
    file_size: int
    n_layers: int
    n_ctx_train: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: tuple[int, ...]  # per layer; 0 = no attention (recurrent layer)
    key_length: int
    value_length: int
    n_vocab: int
    n_merges: int = 0
    has_v_cache: bool = True
    swa_window: int = 0
    swa_layers: tuple[bool, ...] = ()
    recurrent_bytes: int = 0  # per-sequence state of recurrent layers (F32)
    tensors: tuple[TensorInfo, ...] = ()
    exact: bool = True
    quant: str | None = None
    expert_count: int = 0  # mixture of experts: experts per layer, and how many a token uses
    expert_used_count: int = 0
    projector_bytes: int = 0  # an image projector (mmproj) loaded with the model: its weights
    # Drafting (logits_all): llama-cpp-python keeps a row of n_vocab float32 logits for every
    # token of the context, and llama.cpp one for every token of a batch
    all_logits: bool = False

    @property
    def offload_layers(self) -> int:
        """Layers llama.cpp counts for ``n_gpu_layers``: the blocks and the output layer."""
        return self.n_layers + 1


def shape_from_header(header: GgufHeader, file_size: int, name: str) -> ModelShape:
    arch = str(header.get("general.architecture") or "llama")

    def key(suffix: str, default: Any = None) -> Any:  # a GGUF value: any JSON-like type
        return header.get(f"{arch}.{suffix}", default)

    n_layers = int(key("block_count") or 0)
    n_embd = int(key("embedding_length") or 0)
    heads = _per_layer(key("attention.head_count", 0), n_layers)
    heads_kv = _per_layer(key("attention.head_count_kv", heads), n_layers)
    n_head = max(heads) if heads else 0
    head_dim = n_embd // n_head if n_head else 0
    ff = _per_layer(key("feed_forward_length", 0), n_layers)
    n_ff = max(
        max(ff, default=0),
        int(key("expert_feed_forward_length") or 0) * int(key("expert_used_count") or 0),
    )
    window = int(key("attention.sliding_window") or 0)
    n_vocab = int(key("vocab_size") or header.array_lengths.get("tokenizer.ggml.tokens") or 0)
    if not n_vocab:
        embd = next((t for t in header.tensors if t.name == "token_embd.weight"), None)
        n_vocab = embd.shape[-1] if embd else 0
    return ModelShape(
        name=name,
        architecture=arch,
        file_size=file_size,
        n_layers=n_layers,
        n_ctx_train=int(key("context_length") or 4096),
        n_embd=n_embd,
        n_ff=n_ff,
        n_head=n_head,
        n_head_kv=tuple(heads_kv),
        key_length=int(key("attention.key_length") or head_dim),
        value_length=int(key("attention.value_length") or head_dim),
        n_vocab=n_vocab,
        n_merges=header.array_lengths.get("tokenizer.ggml.merges", 0),
        has_v_cache=key("attention.key_length_mla") is None,
        swa_window=window,
        swa_layers=_swa_layers(key("attention.sliding_window_pattern"), arch, window, n_layers),
        recurrent_bytes=_recurrent_bytes(header, arch, heads_kv, n_embd),
        tensors=header.tensors,
        quant=quant_types.quant_from_file_type(header.get("general.file_type"))
        or quant_types.quant_from_name(name),
        expert_count=int(key("expert_count") or 0),
        expert_used_count=int(key("expert_used_count") or 0),
    )


def shape_from_file(path: str | os.PathLike[str]) -> ModelShape:
    """The shape of a local GGUF file (reads only its header). A file Hearth's check refuses
    (``InvalidModelFile``) gets no estimate: its numbers are not a model's."""
    from app.core.gguf.check import check_file

    path = Path(path)
    check_file(path)
    return shape_from_header(read_local_header(path), path.stat().st_size, path.name)


def shape_from_hub(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> ModelShape:
    """The shape of a file on the Hub from its header (Range requests: the first megabytes
    only); from its size alone (``exact`` False) when the header cannot be read."""
    from app.core.gguf.check import header_problem

    remote = read_remote_header(
        repo_id, filename, revision=revision, endpoint=endpoint, token=token
    )
    if remote.header is not None:
        problem = header_problem(remote.header, remote.file_size)
        if problem:
            raise InvalidModelFile(
                f"Hearth would refuse {filename} from {repo_id}: {problem[:1].lower()}{problem[1:]}"
            )
        return shape_from_header(remote.header, remote.file_size or 0, filename)
    if not remote.file_size:
        raise HubError(f"Could not read {filename} from {repo_id}: {remote.error}")
    log.info(
        "Header of %s/%s not readable (%s): estimating from its size",
        repo_id,
        filename,
        remote.error,
    )
    return shape_from_size(remote.file_size, filename)


def shape_from_size(size: int, name: str) -> ModelShape:
    """A rough shape when only the file size is known (``exact`` False): a typical modern
    transformer of that size (32 layers, grouped-query attention, 128k vocabulary)."""
    n_layers = 32
    kv_per_token = max(16 * 1024, int(size * 2.6e-5))  # ~128 KiB/token for an 8B model in Q4
    head_dim, n_head_kv = 128, max(1, kv_per_token // (n_layers * 2 * 128 * 2))
    return ModelShape(
        name=name,
        architecture="unknown",
        file_size=size,
        n_layers=n_layers,
        n_ctx_train=8192,
        n_embd=4096,
        n_ff=14336,
        n_head=32,
        n_head_kv=(n_head_kv,) * n_layers,
        key_length=head_dim,
        value_length=head_dim,
        n_vocab=128256,
        exact=False,
        quant=quant_types.quant_from_name(name),
    )


def _per_layer(value: Any, n_layers: int) -> list[int]:
    if isinstance(value, list):  # the check makes it one whole number per layer
        last = int(value[-1]) if value else 0
        return [int(v) for v in value[:n_layers]] + [last] * (n_layers - len(value))
    return [int(value or 0)] * n_layers


def _swa_layers(pattern: Any, arch: str, window: int, n_layers: int) -> tuple[bool, ...]:
    if not window:
        return (False,) * n_layers
    if isinstance(pattern, list):
        return tuple(bool(v) for v in pattern[:n_layers]) + (False,) * (n_layers - len(pattern))
    every = int(pattern) if pattern is not None else SWA_PATTERNS.get(arch, 0)
    if every == 0:  # llama.cpp: 0 or no pattern = every layer slides
        return (True,) * n_layers
    return tuple(i % every < every - 1 for i in range(n_layers))


def _recurrent_bytes(header: GgufHeader, arch: str, heads_kv: list[int], n_embd: int) -> int:
    """State of recurrent layers (Mamba-style SSM, RWKV), F32, for one sequence."""

    def key(suffix: str) -> int:
        return int(header.get(f"{arch}.{suffix}") or 0)

    layers = sum(1 for h in heads_kv if h == 0)
    if not layers:
        return 0
    if key("wkv.head_size"):
        per_layer = n_embd * (key("wkv.head_size") + 2)
    else:
        d_inner, d_state = key("ssm.inner_size"), key("ssm.state_size")
        groups = max(1, key("ssm.group_count"))
        per_layer = max(0, key("ssm.conv_kernel") - 1) * (d_inner + 2 * groups * d_state)
        per_layer += d_state * d_inner
    return layers * per_layer * 4
