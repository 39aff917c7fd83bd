"""Small GGUF files written on the spot, for the checks that refuse mixed models."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_other_model(path: Path, name: str = "") -> Path:
    """A tiny, valid GGUF of another model (its header differs from the starter's)."""
    from gguf import GGUFWriter

    writer = GGUFWriter(path, "llama")
    if name:
        writer.add_name(name)
    # The sizes Hearth's check asks of any model (app/core/gguf/ranges.py).
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_head_count(2)
    writer.add_tensor("token_embd.weight", np.zeros((16, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
