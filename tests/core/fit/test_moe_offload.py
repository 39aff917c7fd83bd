"""Mixture-of-experts offload: when VRAM is short, the plan keeps every layer on the GPU and the
experts of the first layers in RAM, and the load applies it with llama.cpp's tensor buffer
overrides (as ``--n-cpu-moe``).

On paper: a Qwen3-30B-A3B-sized header (the zoo's qwen3moe tensors at that size, Q8_0,
about 32 GB) on the recorded RTX 3090. For real: the zoo's MoE model loads on the CPU build
with the overrides set and answers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from app.bench.zoo.archs import ARCHS, Dims
from app.core.fit import estimate, speed
from app.core.fit.shape import shape_from_header
from app.core.gguf.header import GgufHeader, TensorInfo
from app.core.hardware import probe
from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions, SamplingOptions
from tests.core.hardware.test_probe import CUDA_INFO, RTX3090, cpu_backend
from tests.support.recorded_hw import FakeNvml

GIB = 1 << 30
Q8_0, F32 = 8, 0
QWEN3_30B = Dims(2048, 48, 6144, 32, 4, 128, n_expert=128, n_expert_used=8, n_ff_exp=768)


def moe_shape(dims: Dims = QWEN3_30B):
    """The header a Q8_0 qwen3moe GGUF of ``dims`` would have (no file is written)."""
    arch = ARCHS["qwen3moe"]
    tensors, offset = [], 0
    for name, ne in arch.tensors(dims, 151936):
        info = TensorInfo(name, Q8_0 if len(ne) >= 2 else F32, ne, offset)
        tensors.append(info)
        offset += info.nbytes
    fields = {f"qwen3moe.{k}": v for k, v in arch.keys(dims).items()}
    fields.update({"general.architecture": "qwen3moe", "general.file_type": 7})
    header = GgufHeader(3, fields, tuple(tensors), 0)
    return shape_from_header(header, offset, "Qwen3-30B-A3B-Q8_0.gguf")


def rtx3090(tmp_path) -> estimate.Machine:
    report = probe.probe(
        tmp_path,
        nvml=FakeNvml.load(RTX3090),
        run=lambda a: "",
        system="Linux",
        sysfs_root=tmp_path,
        backend=cpu_backend(system_info=CUDA_INFO, gpu_offload=True),
    )
    return replace(estimate.Machine.from_report(report), ram_bytes=64 * GIB)


def test_a_moe_model_too_large_for_vram_keeps_the_first_layers_experts_in_ram(tmp_path):
    shape, machine = moe_shape(), rtx3090(tmp_path)
    assert 28 * GIB < shape.file_size < 32 * GIB and machine.gpu_bytes[0] < 24 * GIB
    result = estimate.plan(shape, machine, 8192)
    moe = result.cpu_moe_layers
    assert 0 < moe < shape.n_layers
    assert result.gpu_layers == shape.offload_layers  # attention and the rest all on the GPU
    assert result.verdict == f"Partial: experts of {moe} of 48 layers in RAM"
    assert result.to_json()["cpu_moe_layers"] == moe
    # the fewest: one layer fewer would not fit in VRAM
    fewer = estimate.estimate(shape, 8192, gpu_layers=49, backend="CUDA", cpu_moe_layers=moe - 1)
    assert fewer.vram_bytes > sum(machine.gpu_bytes) >= result.estimate.vram_bytes
    # the experts kept in RAM are the RAM side's weights, beyond the token embeddings
    experts = sum(
        t.nbytes
        for t in shape.tensors
        if re.match(rf"blk\.({'|'.join(map(str, range(moe)))})\.ffn_\w+_exps", t.name)
    )
    embeddings = next(t.nbytes for t in shape.tensors if t.name == "token_embd.weight")
    assert result.estimate.ram_bytes > experts + embeddings
    assert estimate.cpu_expert_patterns(2) == (
        r"blk\.0\.ffn_(up|down|gate|gate_up)_exps",
        r"blk\.1\.ffn_(up|down|gate|gate_up)_exps",
    )


def test_expert_offload_is_faster_on_paper_than_fewer_gpu_layers(tmp_path):
    """A token reads only the used experts' share of the experts left in RAM, while a layer
    split reads every weight of the CPU's layers there."""
    shape = moe_shape()
    gpu = speed.Device("RTX 3090", "gpu", 936e9, 71e12, 0.85, 1.5e-3, 0.65, "table")
    cpu = speed.Device("CPU", "cpu", 60e9, 1e12, 1.0, 5e-3, 1.0, "measured")
    machine = speed.SpeedMachine(cpu, gpu)
    moe = estimate.plan(shape, rtx3090(tmp_path), 8192).cpu_moe_layers
    experts = speed.estimate(shape, machine, shape.offload_layers, 1024, cpu_moe_layers=moe)
    split = speed.estimate(shape, machine, shape.offload_layers - moe, 1024)
    all_gpu = speed.estimate(shape, machine, shape.offload_layers, 1024)
    assert split.gen_tok_s < experts.gen_tok_s < all_gpu.gen_tok_s


def test_a_moe_model_that_fits_whole_keeps_its_experts_on_the_gpu(tmp_path):
    small = moe_shape(Dims(1024, 16, 4096, 16, 4, 64, n_expert=8, n_expert_used=2))
    result = estimate.plan(small, rtx3090(tmp_path), 8192)
    assert result.verdict == estimate.VERDICT_FULL and result.cpu_moe_layers == 0


def test_the_zoo_moe_model_loads_with_its_experts_overridden_to_the_cpu(zoo_models, caplog):
    engine = Engine()
    with caplog.at_level(logging.DEBUG, logger="hearth.llama"):
        engine.load(
            zoo_models["qwen3moe"], LoadOptions(n_ctx=256, n_gpu_layers=0, n_threads=1, n_cpu_moe=2)
        )
    try:
        pieces: list[str] = []
        stats = engine.complete(
            "Once upon a time", SamplingOptions(temperature=0.0, max_tokens=4), pieces.append
        )
    finally:
        engine.unload()
    assert stats.tokens == 4 and "".join(pieces)
    overridden = set(
        re.findall(r"tensor (blk\.\d+\.ffn_\w+_exps)\.weight .*overridden", caplog.text)
    )
    assert overridden == {f"blk.{i}.ffn_{p}_exps" for i in (0, 1) for p in ("gate", "up", "down")}
