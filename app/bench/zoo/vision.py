"""A tiny vision model pair for tests: a random-weight text model and its image projector.

No vision model small enough for CI is shipped on PyPI, so the pair is generated: the zoo's
tiny ``llama`` text model (``zoo.write``, the starter's tokenizer and chat template) and an
mmproj file of the ``clip`` architecture that llama.cpp's mtmd loads, with LLaVA's ``mlp``
projector (a small ViT, then two linear layers into the text model's embedding width). Keys and
tensor names are those of llama.cpp's ``tools/mtmd/clip.cpp`` and ``models/llava.cpp`` in
llama-cpp-python 0.3.36's vendored copy (the ``gguf`` package's ``Keys.Clip*`` and
``TENSOR_NAMES``). Weights are random: an image is encoded to ``IMAGE_TOKENS`` embeddings and
the model answers with meaningless words, so tests check the path, never the answer.

Files are made on demand in a cache folder (``VERSION`` names it), never in the repository.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.bench.zoo import SIZES
from app.bench.zoo.write import write_model

VERSION = "v1"
IMAGE_SIZE = 32  # pixels a side: every image is resized to this square
PATCH_SIZE = 8
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # one embedding per patch: 16
N_EMBD = 64  # the vision encoder's width
N_FF = 128
N_HEAD = 4
N_LAYER = 2  # LLaVA takes the second-to-last layer's output: one layer runs
# ChatML, as the starter's, but a message's content may be a list of parts (text, and the
# image parts llama-cpp-python's MTMDChatHandler turns into its media marker as text parts).
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class VisionPair:
    model: Path  # the text model (F16 GGUF)
    mmproj: Path  # its image projector (``clip`` GGUF)


def vision_pair(starter: Path, folder: Path) -> VisionPair:
    """The tiny text model and its projector, made if missing."""
    folder = Path(folder) / f"vision-{VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    dims = SIZES["tiny"]
    model = folder / "zoo-vision-llama-tiny-F16.gguf"
    if not model.exists():
        write_model("llama", dims, starter, model, chat_template=CHAT_TEMPLATE)
    mmproj = folder / "mmproj-zoo-vision-tiny-F16.gguf"
    if not mmproj.exists():
        write_projector(mmproj, n_embd_text=dims.n_embd)
    return VisionPair(model, mmproj)


def write_projector(
    target: Path, n_embd_text: int, seed: int = 0, omit: tuple[str, ...] = ()
) -> Path:
    """Write ``target``: a ``clip`` GGUF with an ``mlp`` projector into ``n_embd_text``;
    the tensors named in ``omit`` left out (a damaged projector, for the crash tests)."""
    from gguf import GGUFWriter

    partial = target.with_name(target.name + ".part")
    writer = GGUFWriter(partial, "clip")
    writer.add_name("Hearth zoo vision projector")
    writer.add_type("mmproj")
    writer.add_file_type(1)  # F16
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "mlp")
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    writer.add_uint32("clip.vision.embedding_length", N_EMBD)
    writer.add_uint32("clip.vision.feed_forward_length", N_FF)
    writer.add_uint32("clip.vision.projection_dim", n_embd_text)
    writer.add_uint32("clip.vision.block_count", N_LAYER)
    writer.add_uint32("clip.vision.attention.head_count", N_HEAD)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    rng = np.random.default_rng(seed)
    for name, array in _tensors(rng, n_embd_text):
        if name not in omit:
            writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, target)
    return target


def _tensors(rng: np.random.Generator, n_embd_text: int) -> list[tuple[str, np.ndarray]]:
    """(name, values) in numpy's shape order (llama.cpp's ``ne`` reversed)."""

    def matrix(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    def zeros(n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.float32)

    n_pos = IMAGE_TOKENS + 1  # the patches and the class embedding
    out = [
        ("v.patch_embd.weight", matrix(N_EMBD, 3, PATCH_SIZE, PATCH_SIZE)),
        ("v.class_embd", (rng.standard_normal(N_EMBD) * 0.02).astype(np.float32)),
        ("v.position_embd.weight", matrix(n_pos, N_EMBD)),
        ("v.pre_ln.weight", ones(N_EMBD)),
        ("v.pre_ln.bias", zeros(N_EMBD)),
    ]
    for i in range(N_LAYER):
        block = f"v.blk.{i}"
        for part in ("attn_q", "attn_k", "attn_v", "attn_out"):
            out += [(f"{block}.{part}.weight", matrix(N_EMBD, N_EMBD))]
            out += [(f"{block}.{part}.bias", zeros(N_EMBD))]
        out += [
            (f"{block}.ln1.weight", ones(N_EMBD)),
            (f"{block}.ln1.bias", zeros(N_EMBD)),
            (f"{block}.ln2.weight", ones(N_EMBD)),
            (f"{block}.ln2.bias", zeros(N_EMBD)),
            (f"{block}.ffn_up.weight", matrix(N_FF, N_EMBD)),
            (f"{block}.ffn_up.bias", zeros(N_FF)),
            (f"{block}.ffn_down.weight", matrix(N_EMBD, N_FF)),
            (f"{block}.ffn_down.bias", zeros(N_EMBD)),
        ]
    out += [
        ("mm.0.weight", matrix(n_embd_text, N_EMBD)),
        ("mm.0.bias", zeros(n_embd_text)),
        ("mm.2.weight", matrix(n_embd_text, n_embd_text)),
        ("mm.2.bias", zeros(n_embd_text)),
    ]
    return out


def sample_png(width: int = 40, height: int = 30) -> bytes:
    """A small RGB gradient as PNG bytes, written by hand (no imaging package needed)."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in ((x * 7) % 256, (y * 5) % 256, 128))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
