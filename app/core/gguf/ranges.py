"""Are a GGUF header's hyperparameters within llama.cpp's ranges?

Part of Hearth's check of a model file (app.core.gguf.check). llama.cpp reads these numbers into
C ints and trusts them: ``block_count`` 0 makes it abort, 2^32-1 made Hearth's own fit estimate
build lists of four billion layers, NaN or text where a number belongs raised tracebacks, and a
context length past 2^31 came back from llama-cpp-python as a negative number. A LoRA adapter
or a vision projector (mmproj) is a GGUF file too, but no model: it has no layers to run.

:func:`hyperparameter_problem` says what is wrong, in words for the user, or None. The ranges
are llama.cpp's where it has one (LLAMA_MAX_LAYERS, LLAMA_MAX_EXPERTS, its assertions on the
expert counts) and otherwise far above any real model, inside a C int.
"""

from __future__ import annotations

import math
from typing import Any

from app.core.config.limits import MAX_CONTEXT, MAX_LAYERS
from app.core.gguf.header import GgufHeader

MAX_EXPERTS = 512  # LLAMA_MAX_EXPERTS
MAX_WIDTH = 1 << 20  # embedding width (the largest real models: ~25,600)
MAX_HEADS = 1 << 16
MAX_FEED_FORWARD = 1 << 24
MAX_VOCAB = 1 << 24

_INTEGERS = {0, 1, 2, 3, 4, 5, 10, 11}  # u8 i8 u16 i16 u32 i32 u64 i64
_FLOATS = {6, 12}
_ARRAY = 9
NOT_MODELS = {
    "adapter": "a LoRA adapter",
    "mmproj": "a vision projector (mmproj)",
    "imatrix": "an importance matrix",
}

# key (after "<arch>.") -> (lowest, highest, may be a per-layer array)
COUNTS = {
    "block_count": (1, MAX_LAYERS, False),
    "context_length": (1, MAX_CONTEXT, False),
    "embedding_length": (1, MAX_WIDTH, False),
    "feed_forward_length": (0, MAX_FEED_FORWARD, True),
    "attention.head_count": (0, MAX_HEADS, True),
    "attention.head_count_kv": (0, MAX_HEADS, True),
    "attention.key_length": (0, MAX_HEADS, False),
    "attention.value_length": (0, MAX_HEADS, False),
    "attention.sliding_window": (0, MAX_CONTEXT, False),
    "rope.dimension_count": (0, MAX_HEADS, False),
    "expert_count": (0, MAX_EXPERTS, False),
    "expert_used_count": (0, MAX_EXPERTS, False),
    "expert_feed_forward_length": (0, MAX_FEED_FORWARD, False),
    "vocab_size": (1, MAX_VOCAB, False),
}
REQUIRED = ("block_count", "context_length", "embedding_length")  # llama.cpp requires them
RECURRENT = (".ssm.", ".wkv.", ".shortconv.")  # layers without attention heads


def hyperparameter_problem(header: GgufHeader) -> str | None:
    """What is wrong with the header's hyperparameters, or None."""
    kind = header.get("general.type")
    if isinstance(kind, str) and kind.lower() in NOT_MODELS:
        return (
            f"it is {NOT_MODELS[kind.lower()]}, not a model: it is used together with "
            "its model, never loaded alone."
        )
    arch = header.get("general.architecture")
    if not isinstance(arch, str) or not arch.strip():
        return "it does not say its model architecture (general.architecture)."
    if arch == "clip":
        return (
            f"it is {NOT_MODELS['mmproj']}, not a model: it is used together with its "
            "model, never loaded alone."
        )
    for key, value in header.fields.items():
        if key.startswith((f"{arch}.", "general.")) and not _finite(value):
            return f"the value of {key} is not a finite number."
    for suffix in REQUIRED:
        if f"{arch}.{suffix}" not in header.fields:
            return f"it lacks {arch}.{suffix}, which llama.cpp needs."
    values: dict[str, list[int]] = {}
    layers = header.get(f"{arch}.block_count")
    for suffix, (low, high, per_layer) in COUNTS.items():
        key = f"{arch}.{suffix}"
        if key not in header.fields:
            continue
        problem = _count_problem(header, key, low, high, per_layer, layers)
        if problem:
            return problem
        value = header.fields[key]
        number = value if isinstance(value, list) else [value]
        values[suffix] = [int(v) for v in number]  # type: ignore[arg-type]
    return _relation_problem(header, arch, values)


def _count_problem(
    header: GgufHeader, key: str, low: int, high: int, per_layer: bool, layers: Any
) -> str | None:
    kind, value = header.kinds.get(key, ()), header.fields[key]
    items: list[Any]
    if per_layer and kind[:1] == (_ARRAY,):
        if len(kind) < 2 or kind[1] not in _INTEGERS:
            return f"its {key} is a list of something other than whole numbers."
        count = header.array_lengths.get(key, 0)
        if value is None or count != layers:
            return f"its {key} has {count:,} per-layer value(s) for {layers:,} layer(s)."
        items = list(value)  # type: ignore[call-overload]
    elif kind[:1] and kind[0] in _INTEGERS:
        items = [value]
    else:
        return f"its {key} is not a whole number (it is {_shown(value)})."
    bad = next((v for v in items if not low <= v <= high), None)
    if bad is not None:
        return f"its {key} is {bad:,}; llama.cpp takes {low:,} to {high:,}."
    return None


def _relation_problem(header: GgufHeader, arch: str, values: dict[str, list[int]]) -> str | None:
    experts = values.get("expert_count", [0])[0]
    used = values.get("expert_used_count", [0])[0]
    if used > experts or (experts > 0) != (used > 0):
        return (
            f"it uses {used:,} of {experts:,} experts per token (llama.cpp needs at least "
            "one of at most all experts, and none without experts)."
        )
    heads, heads_kv = values.get("attention.head_count"), values.get("attention.head_count_kv")
    if (
        heads is not None
        and not any(heads)
        and not any(any(part in key for part in RECURRENT) for key in header.fields)
    ):
        return f"its {arch}.attention.head_count is 0: the model has no attention heads."
    if heads is not None and heads_kv is not None:
        layers = max(len(heads), len(heads_kv))
        for layer in range(layers):
            q = heads[min(layer, len(heads) - 1)]
            kv = heads_kv[min(layer, len(heads_kv) - 1)]
            if kv > q:
                return (
                    f"its layer {layer} has more key/value heads ({kv:,}) than attention "
                    f"heads ({q:,})."
                )
    return None


# An image projector's numbers (``clip.vision.*``), where llama.cpp's mtmd trusts them: a
# patch size or head count of 0, heads that do not divide the width, or an image size of 0
# made it assert in the model's process while loading; an epsilon of NaN loaded, then asserted
# on the first image (0.3.36, measured). Only keys a projector has are checked (audio
# projectors and newer kinds name others).
PROJECTOR_COUNTS = {
    "clip.vision.image_size": (1, 1 << 14),  # real projectors: 224 to ~1,536
    "clip.vision.patch_size": (1, 1 << 10),  # 14 or 16
    "clip.vision.embedding_length": (1, MAX_WIDTH),
    "clip.vision.feed_forward_length": (1, MAX_FEED_FORWARD),
    "clip.vision.projection_dim": (1, MAX_WIDTH),
    "clip.vision.block_count": (1, MAX_LAYERS),
    "clip.vision.attention.head_count": (1, MAX_HEADS),
}


def projector_problem(header: GgufHeader) -> str | None:
    """What is wrong with an image projector's numbers, or None."""
    for key, value in header.fields.items():
        if key.startswith("clip.") and not _finite(value):
            return f"the value of {key} is not a finite number."
    for key, (low, high) in PROJECTOR_COUNTS.items():
        if key in header.fields:
            problem = _count_problem(header, key, low, high, False, None)
            if problem:
                return problem
    epsilon = header.get("clip.vision.attention.layer_norm_epsilon")
    if isinstance(epsilon, (int, float)) and epsilon < 0:
        return (
            f"its clip.vision.attention.layer_norm_epsilon is {epsilon}; llama.cpp takes 0 or more."
        )
    width = header.get("clip.vision.embedding_length")
    heads = header.get("clip.vision.attention.head_count")
    if type(width) is int and type(heads) is int and width % heads:
        return (
            f"its {width:,}-wide vision layers do not divide into {heads:,} attention heads "
            "(clip.vision.embedding_length, clip.vision.attention.head_count)."
        )
    size, patch = header.get("clip.vision.image_size"), header.get("clip.vision.patch_size")
    if type(size) is int and type(patch) is int and patch > size:
        return f"its patches ({patch:,} pixels) are larger than its images ({size:,} pixels)."
    return None


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(math.isfinite(v) for v in value if isinstance(v, float))
    return True


def _shown(value: object) -> str:
    if isinstance(value, str):
        return f"the text {value[:30]!r}"
    if isinstance(value, list):
        return "a list"
    return repr(value)[:30]
