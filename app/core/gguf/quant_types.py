"""Quantization types: names found in file names and headers, bits per weight (of the block
type, and of a typical whole file of each type)."""

from __future__ import annotations

import re

# Bits per weight of the ggml block types (ggml-common.h). Mixes (_S/_M/_L) use their base type;
# for those a file's real size is the better guide.
BITS_PER_WEIGHT: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.5625,
    "Q5_0": 5.5,
    "Q5_1": 6.0,
    "Q5_K_S": 5.5,
    "Q5_K_M": 5.5,
    "Q4_0": 4.5,
    "Q4_1": 5.0,
    "Q4_K_S": 4.5,
    "Q4_K_M": 4.5,
    "IQ4_NL": 4.5,
    "IQ4_XS": 4.25,
    "MXFP4": 4.25,
    "Q3_K_S": 3.4375,
    "Q3_K_M": 3.4375,
    "Q3_K_L": 3.4375,
    "IQ3_S": 3.4375,
    "IQ3_M": 3.4375,
    "IQ3_XS": 3.3,
    "IQ3_XXS": 3.0625,
    "Q2_K": 2.625,
    "Q2_K_S": 2.625,
    "IQ2_M": 2.7,
    "IQ2_S": 2.5625,
    "IQ2_XS": 2.3125,
    "IQ2_XXS": 2.0625,
    "IQ1_M": 1.75,
    "IQ1_S": 1.5625,
    # Unsloth "dynamic" mixes: named after their base type, some tensors kept larger.
    "Q2_K_XL": 2.625,
    "Q3_K_XL": 3.4375,
    "Q4_K_XL": 4.5,
    "Q5_K_XL": 5.5,
    "Q6_K_XL": 6.5625,
    "Q8_K_XL": 8.5,
}

# Longest names first so "Q4_K_M" wins over "Q4_K" and "IQ2_XXS" over "IQ2_XS".
_NAMES = sorted(BITS_PER_WEIGHT, key=len, reverse=True)
_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])(" + "|".join(re.escape(n) for n in _NAMES) + r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# llama.cpp's llama_ftype values (llama.h) -> quant name, as written in general.file_type.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    38: "MXFP4",
}


def quant_from_name(file_name: str) -> str | None:
    """The quant type written in a file name (``model.Q4_K_M.gguf`` -> ``Q4_K_M``), if any."""
    stem = re.sub(r"-\d{5}-of-\d{5}", "", file_name)
    matches = _PATTERN.findall(stem.replace(".", "-"))
    return matches[-1].upper() if matches else None


def quant_from_file_type(file_type: int | None) -> str | None:
    if file_type is None:
        return None
    return FILE_TYPES.get(int(file_type) & ~1024)  # 1024 = LLAMA_FTYPE_GUESSED


def bits_per_weight(quant: str | None) -> float | None:
    return BITS_PER_WEIGHT.get((quant or "").upper())


# Typical bits per weight of whole files (mixes keep embeddings and some layers larger than their
# base type), from Llama-3-8B files of each type: file bytes x 8 / 8.03e9 parameters.
TYPICAL_BPW: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.6,
    "Q5_1": 6.1,
    "Q5_K_M": 5.7,
    "Q5_K_S": 5.6,
    "Q5_0": 5.6,
    "Q4_1": 5.1,
    "Q4_K_M": 4.9,
    "Q4_K_S": 4.7,
    "Q4_0": 4.6,
    "IQ4_NL": 4.7,
    "IQ4_XS": 4.4,
    "MXFP4": 4.3,
    "Q3_K_L": 4.3,
    "Q3_K_M": 4.0,
    "IQ3_M": 3.8,
    "Q3_K_S": 3.7,
    "IQ3_S": 3.6,
    "IQ3_XS": 3.5,
    "IQ3_XXS": 3.3,
    "Q2_K": 3.2,
    "Q2_K_S": 3.0,
    "IQ2_M": 2.9,
    "IQ2_S": 2.8,
    "IQ2_XS": 2.6,
    "IQ2_XXS": 2.4,
    "IQ1_M": 2.2,
    "IQ1_S": 2.0,
}


def typical_bits(quant: str | None) -> float | None:
    """Bits per weight of a typical whole file of this type (base type for Unsloth's XL mixes)."""
    name = (quant or "").upper()
    if name.endswith("_XL"):
        base = TYPICAL_BPW.get(name[:-3] + "_M") or TYPICAL_BPW.get(name[:-3])
        return base or bits_per_weight(name)
    return TYPICAL_BPW.get(name) or bits_per_weight(name)
