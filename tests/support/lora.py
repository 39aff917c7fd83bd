"""A LoRA adapter for a real model, written with the ``gguf`` package: random low-rank weights
of the shapes llama.cpp checks against the model (``lora_a``: rank x the weight's input,
``lora_b``: the weight's output x rank), on the attention's query and value weights."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from app.core.gguf import info

BASE_NAME = "SmolLM2 135M Instruct"


def make_lora(
    base: Path, out: Path, rank: int = 8, seed: int = 0, width: int | None = None
) -> Path:
    """An adapter for ``base`` (``width`` other than the model's: one made for another model)."""
    reader = gguf.GGUFReader(base)
    arch = info.read_info(base).architecture
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(out, arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    writer.add_string("general.name", "test adapter")
    writer.add_uint32("general.base_model.count", 1)
    writer.add_string("general.base_model.0.name", BASE_NAME)
    for tensor in reader.tensors:
        if not tensor.name.endswith(("attn_q.weight", "attn_v.weight")):
            continue
        n_in, n_out = (int(d) for d in tensor.shape[:2])  # ggml order: input first
        n_in = width or n_in
        name = tensor.name
        writer.add_tensor(f"{name}.lora_a", rng.normal(0, 0.5, (rank, n_in)).astype(np.float32))
        writer.add_tensor(f"{name}.lora_b", rng.normal(0, 0.5, (n_out, rank)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
