"""Repos laid out like community GGUF repos on the Hub, published on a test's loopback Hub.

The Hub itself (repositories, commits, the JSON it answers with) is :mod:`app.bench.hub`; this
module only names files and adds the companions real GGUF repos carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.bench.hub import BenchHub
    from app.bench.hub.repos import HubRepo

GITATTRIBUTES = (
    "*.gguf filter=lfs diff=lfs merge=lfs -text\n"
    "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    "*.bin filter=lfs diff=lfs merge=lfs -text\n"
)


def gguf_name(stem: str, quant: str, *, style: str = "dash", part: int = 0, parts: int = 0) -> str:
    """A GGUF file name in one of the styles real repos use.

    ``dash``: ``Model-Q4_K_M.gguf`` (bartowski, unsloth); ``dot``: ``model.Q4_K_M.gguf`` (TheBloke);
    with ``part``/``parts``: the gguf-split shard ``Model-Q8_0-00001-of-00002.gguf``.
    """
    name = f"{stem}.{quant}" if style == "dot" else f"{stem}-{quant}"
    return f"{name}-{part:05d}-of-{parts:05d}.gguf" if parts else f"{name}.gguf"


def mmproj_name(stem: str, precision: str = "f16") -> str:
    """A vision projector's file name, e.g. ``mmproj-model-f16.gguf``."""
    return f"mmproj-{stem}-{precision}.gguf"


def split_bytes(data: bytes, parts: int) -> list[bytes]:
    """Cut ``data`` into ``parts`` raw byte ranges (serving stand-ins for shards, not real gguf-split files)."""
    step = -(-len(data) // parts)
    return [data[i * step : (i + 1) * step] for i in range(parts)]


def add_gguf_family(
    hub: BenchHub,
    repo_id: str,
    files: dict[str, Path | bytes],
    *,
    base_model: str = "example/Base-Model",
    architecture: str = "llama",
    **repo_kwargs: Any,
) -> HubRepo:
    """Publish ``files`` (GGUF names -> content) the way GGUF repos look on the Hub.

    Adds what sits beside the weights in real repos: ``.gitattributes`` (LFS rules), ``README.md``
    with YAML front matter (``base_model``, ``tags: [gguf]``, ``quantized_by``) and a small
    ``config.json``; tags the repo ``gguf`` and gives it a ``gguf`` dict like the Hub computes from
    the first file, unless ``repo_kwargs`` say otherwise. For example::

        add_gguf_family(hub, "org/Model-GGUF", {
            gguf_name("Model", "Q4_K_M"): q4_path,                        # Model-Q4_K_M.gguf
            gguf_name("Model", "Q8_0", part=1, parts=2): shard1,          # Model-Q8_0-00001-of-00002.gguf
            gguf_name("Model", "Q8_0", part=2, parts=2): shard2,
            mmproj_name("Model"): projector,                              # mmproj-Model-f16.gguf
        })
    """
    card = (
        f"---\nbase_model: {base_model}\nlibrary_name: gguf\npipeline_tag: text-generation\n"
        f"quantized_by: hearth-tests\ntags:\n- gguf\n---\n\n# {repo_id.split('/')[-1]}\n\n"
        f"GGUF quantizations of [{base_model}](https://huggingface.co/{base_model}).\n"
    )
    companions: dict[str, Path | bytes] = {
        ".gitattributes": GITATTRIBUTES.encode(),
        "README.md": card.encode(),
        "config.json": f'{{"model_type": "{architecture}"}}\n'.encode(),
    }
    repo_kwargs.setdefault(
        "tags", ["gguf", "text-generation", f"base_model:quantized:{base_model}"]
    )
    repo_kwargs.setdefault(
        "gguf", {"total": 0, "architecture": architecture, "context_length": 4096}
    )
    return hub.add_repo(repo_id, {**companions, **files}, **repo_kwargs)
