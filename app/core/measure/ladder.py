"""A quant ladder of one model (F16, Q8_0 ... Q2_K), made locally from a GGUF file.

The source (the starter model is Q4_1) is dequantized to F16 with the ``gguf`` package, then
quantized by llama.cpp's own quantizer (``llama_cpp.llama_model_quantize``) to each ladder type.
Used by the benchmarks (``hearth bench``) and the tests; files already made are reused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.core.compat.llama_cpp import model_quantize

LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
# llama_ftype values from llama.h
FTYPES = {"Q8_0": 7, "Q6_K": 18, "Q5_K_M": 17, "Q4_K_M": 15, "Q3_K_M": 12, "Q2_K": 10}
FTYPE_F16 = 1


def dequantize_to_f16(source: Path, target: Path) -> Path:
    """Write an F16 copy of ``source`` (2-D weights in F16, 1-D tensors kept in F32)."""
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize

    reader = GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    partial = target.with_name(target.name + ".part")
    writer = GGUFWriter(partial, arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = field.contents()
        if key == "general.file_type":
            value = FTYPE_F16
        sub_type = field.types[1] if field.types[0] == GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, field.types[0], sub_type=sub_type)
    for tensor in reader.tensors:
        data = dequantize(tensor.data, tensor.tensor_type)
        if data.ndim >= 2 and tensor.tensor_type != GGMLQuantizationType.F32:
            data = data.astype(np.float16)
        else:
            data = data.astype(np.float32)
        writer.add_tensor(tensor.name, np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, target)
    return target


def quantize(source: Path, target: Path, quant: str, threads: int = 2) -> Path:
    """Quantize with llama.cpp's quantizer; the result is only placed when complete."""
    partial = target.with_name(target.name + ".part")
    result = model_quantize(source, partial, FTYPES[quant], threads)
    if result != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"llama_model_quantize({quant}) failed with {result}")
    os.replace(partial, target)
    return target


def build_ladder(starter_gguf: Path, folder: Path) -> dict[str, Path]:
    """Return {"F16": path, "Q8_0": path, ...}, building what is missing."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = "SmolLM2-135M-Instruct"
    f16 = folder / f"{stem}-F16.gguf"
    if not f16.exists():
        dequantize_to_f16(starter_gguf, f16)
    ladder = {"F16": f16}
    for quant in LADDER:
        path = folder / f"{stem}-{quant}.gguf"
        if not path.exists():
            quantize(f16, path, quant)
        ladder[quant] = path
    return ladder
