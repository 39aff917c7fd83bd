"""The fit estimator: shapes read from real GGUF files, the memory formulas, the verdicts, and
one real measurement through the benchmark's code path.

Expected byte counts come from llama.cpp's own load log for these files (e.g. "CPU KV buffer
size = 45.00 MiB", "CPU_REPACK model buffer size = 42.71 MiB").
"""

from __future__ import annotations

import re

import pytest

from app.core.fit import estimate
from app.core.fit.shape import ModelShape, shape_from_header
from app.core.gguf.header import GgufHeader, read_local_header
from app.core.hardware import probe
from tests.core.hardware.test_probe import (
    A5000X2,
    CUDA_INFO,
    METAL_INFO,
    RTX3090,
    cpu_backend,
    m1_max_recording,
)
from tests.support.recorded_hw import FakeNvml, mac_runner

MIB = 1 << 20
GIB = 1 << 30
X86 = frozenset({"SSE3", "AVX", "AVX2", "F16C", "FMA", "REPACK"})
ARM = frozenset({"NEON", "ARM_FMA", "DOTPROD", "REPACK"})


@pytest.fixture(scope="module")
def shapes(quant_ladder) -> dict[str, ModelShape]:
    return {quant: estimate.shape_from_file(path) for quant, path in quant_ladder.items()}


def synthetic(arch: str, n_layers: int = 4, **metadata) -> ModelShape:
    """A header as a GGUF of ``arch`` would carry it (no tensors: metadata only)."""
    fields = {
        "general.architecture": arch,
        f"{arch}.block_count": n_layers,
        f"{arch}.embedding_length": 1024,
        f"{arch}.attention.head_count": 8,
        f"{arch}.attention.head_count_kv": 2,
        f"{arch}.context_length": 32768,
        f"{arch}.vocab_size": 32000,
    }
    fields.update({f"{arch}.{k}": v for k, v in metadata.items()})
    return shape_from_header(GgufHeader(3, fields, (), 0), 10**9, f"{arch}.gguf")


# -- shapes ----------------------------------------------------------------------------------------


def test_shape_of_the_starter_ladder(shapes):
    shape = shapes["Q4_K_M"]
    assert (shape.architecture, shape.n_layers, shape.n_ctx_train) == ("llama", 30, 8192)
    assert (shape.n_embd, shape.n_ff, shape.n_head) == (576, 1536, 9)
    assert shape.n_head_kv == (3,) * 30 and shape.key_length == shape.value_length == 64
    assert (shape.n_vocab, shape.n_merges) == (49152, 48900)
    assert shape.offload_layers == 31 and shape.exact and shape.quant == "Q4_K_M"


def test_weights_are_the_tensor_bytes_of_each_file(quant_ladder, shapes):
    for quant, path in quant_ladder.items():
        header = read_local_header(path)
        weights = estimate.estimate(shapes[quant], 512).weights_bytes
        data = path.stat().st_size - header.data_offset
        assert 0 <= data - weights <= 32 * len(header.tensors), quant  # only alignment padding


def test_kv_cache_formula_matches_llama_cpp(shapes):
    shape = shapes["Q8_0"]
    # 30 layers x 2048 cells x (K + V) x 3 heads x 64 dims
    assert estimate.estimate(shape, 2048).kv_cache_bytes == 45 * MIB
    assert estimate.estimate(shape, 2048, "q8_0").kv_cache_bytes == 25_067_520  # 23.91 MiB
    assert estimate.estimate(shape, 2048, "q4_0").kv_cache_bytes == 13_271_040  # 12.66 MiB
    assert estimate.estimate(shape, 2000).kv_cache_bytes == 45 * MIB  # padded to 256 cells
    assert estimate.estimate(shape, 2048, "q8_0").flash_attn  # a quantized V cache needs it


def test_repacked_copies_follow_the_cpu_features(shapes):
    assert estimate.estimate(shapes["Q2_K"], 512, cpu_features=X86).repack_bytes == 44_789_760
    assert estimate.estimate(shapes["Q4_K_M"], 512, cpu_features=X86).repack_bytes == 7_962_624
    assert estimate.estimate(shapes["Q8_0"], 512, cpu_features=X86).repack_bytes == 0
    assert estimate.estimate(shapes["Q2_K"], 512).repack_bytes == 0  # no REPACK in the build
    assert estimate.estimate(shapes["Q8_0"], 512, cpu_features=ARM).repack_bytes > 100 * MIB


def test_sliding_window_layers_hold_only_the_window_when_not_full():
    shape = synthetic("gemma2", n_layers=4, **{"attention.sliding_window": 4096})
    assert shape.swa_layers == (True, False, True, False)  # llama.cpp's gemma2 pattern
    full = estimate.estimate(shape, 32768).kv_cache_bytes
    windowed = estimate.estimate(shape, 32768, swa_full=False).kv_cache_bytes
    per_cell = full // (4 * 32768)
    assert windowed == per_cell * (2 * 32768 + 2 * 4608)  # window + ubatch, padded to 256
    pattern = synthetic(
        "gemma3",
        n_layers=6,
        **{"attention.sliding_window": 1024, "attention.sliding_window_pattern": 3},
    )
    assert pattern.swa_layers == (True, True, False) * 2


def test_mla_keeps_no_v_cache_and_hybrids_skip_recurrent_layers():
    mla = synthetic(
        "deepseek2",
        **{
            "attention.key_length": 576,
            "attention.value_length": 512,
            "attention.key_length_mla": 192,
            "attention.head_count_kv": 1,
        },
    )
    assert estimate.estimate(mla, 1024).kv_cache_bytes == 4 * 1024 * 576 * 2
    hybrid = synthetic(
        "granitehybrid",
        **{
            "attention.head_count_kv": [0, 2, 0, 0],
            "ssm.conv_kernel": 4,
            "ssm.inner_size": 2048,
            "ssm.state_size": 128,
            "ssm.group_count": 1,
        },
    )
    dense = synthetic("llama")
    assert (
        estimate.estimate(hybrid, 4096).kv_cache_bytes
        < estimate.estimate(dense, 4096).kv_cache_bytes
    )
    assert hybrid.recurrent_bytes == 3 * (3 * (2048 + 256) + 128 * 2048) * 4


def test_size_only_estimate_is_marked_inexact():
    shape = estimate.shape_from_size(4_920_000_000, "Llama-3-8B-Q4_K_M.gguf")
    est = estimate.estimate(shape, 8192)
    assert not shape.exact and shape.quant == "Q4_K_M"
    assert 4.9e9 <= est.weights_bytes <= 5.0e9 and est.kv_cache_bytes > 0.5e9


# -- verdicts --------------------------------------------------------------------------------------


def cuda(vram_gib: float, ram_gib: float = 32) -> estimate.Machine:
    return estimate.Machine(
        ram_bytes=int(ram_gib * GIB),
        gpu_bytes=(int(vram_gib * GIB),),
        backend="CUDA",
        cpu_features=X86,
    )


def test_full_offload_partial_cpu_only_and_too_large(shapes):
    shape = shapes["F16"]
    full = estimate.plan(shape, cuda(24), 8192)
    assert (full.verdict, full.gpu_layers, full.max_ctx) == ("Full GPU offload", 31, 8192)
    assert full.estimate.vram_bytes > full.estimate.ram_bytes

    partial = estimate.plan(shape, cuda(0.95), 8192)
    layers = int(re.fullmatch(r"Partial: (\d+) of 31 layers on GPU", partial.verdict).group(1))
    assert 0 < layers == partial.gpu_layers < 31
    assert partial.estimate.vram_bytes <= 0.95 * GIB

    cpu = estimate.plan(shape, estimate.Machine(ram_bytes=8 * GIB, cpu_features=X86), 8192)
    assert (cpu.verdict, cpu.gpu_layers) == ("CPU only — fits in RAM", 0)

    too_large = estimate.plan(shape, estimate.Machine(ram_bytes=200 * MIB), 8192)
    assert (too_large.verdict, too_large.gpu_layers, too_large.max_ctx) == ("Too large", 0, 0)


def test_largest_context_that_fits(shapes):
    shape = shapes["Q4_K_M"]
    ram = estimate.estimate(shape, 4096, cpu_features=X86).total_bytes + MIB
    machine = estimate.Machine(ram_bytes=ram, cpu_features=X86)
    at_4k = estimate.plan(shape, machine, 4096)
    assert at_4k.verdict == estimate.VERDICT_CPU and at_4k.max_ctx == 4096
    at_8k = estimate.plan(shape, machine, 8192)
    assert at_8k.verdict == estimate.VERDICT_TOO_LARGE and at_8k.max_ctx == 4096


def test_apple_unified_memory_counts_once(shapes):
    mac = estimate.Machine(
        ram_bytes=12 * GIB,
        gpu_bytes=(int(10.67 * GIB),),
        backend="Metal",
        cpu_features=ARM,
        unified_memory=True,
    )
    result = estimate.plan(shapes["Q8_0"], mac, 8192)
    assert result.verdict == estimate.VERDICT_FULL
    assert result.estimate.total_bytes <= 12 * GIB


def test_machine_from_a_report_uses_only_gpus_the_build_can_drive(tmp_path):
    """The RTX 3090 as its nvidia-smi -q -x recording shows it (24120 MiB free)."""
    nvml = FakeNvml.load(RTX3090)
    cpu_build = probe.probe(
        tmp_path,
        nvml=nvml,
        run=lambda a: "",
        system="Linux",
        sysfs_root=tmp_path,
        backend=cpu_backend(),
    )
    assert estimate.Machine.from_report(cpu_build).gpu_bytes == ()
    cuda_build = probe.probe(
        tmp_path,
        nvml=nvml,
        run=lambda a: "",
        system="Linux",
        sysfs_root=tmp_path,
        backend=cpu_backend(system_info=CUDA_INFO, gpu_offload=True),
    )
    machine = estimate.Machine.from_report(cuda_build)
    assert machine.backend == "CUDA" and machine.gpu_bytes == (24120 * MIB,)
    assert "AVX2" in machine.cpu_features


def test_verdicts_on_two_busy_a5000(tmp_path, shapes):
    """The two RTX A5000 of the recording, llama-server holding 22430 and 17246 MiB: what is
    left (1678 + 6862 MiB) still takes the whole starter model in F16; a CPU build runs it in
    RAM."""
    nvml = FakeNvml.load(A5000X2)
    cuda_build = probe.probe(
        tmp_path,
        nvml=nvml,
        run=lambda a: "",
        system="Linux",
        sysfs_root=tmp_path,
        backend=cpu_backend(system_info=CUDA_INFO, gpu_offload=True),
    )
    machine = estimate.Machine.from_report(cuda_build)
    assert machine.gpu_bytes == (1678 * MIB, 6862 * MIB)
    on_gpus = estimate.plan(shapes["F16"], machine, 8192)
    assert on_gpus.verdict == estimate.VERDICT_FULL and on_gpus.gpu_layers == 31
    assert on_gpus.estimate.vram_bytes <= sum(machine.gpu_bytes)
    cpu_build = probe.probe(
        tmp_path,
        nvml=nvml,
        run=lambda a: "",
        system="Linux",
        sysfs_root=tmp_path,
        backend=cpu_backend(),
    )
    assert estimate.plan(shapes["F16"], estimate.Machine.from_report(cpu_build), 8192).verdict == (
        estimate.VERDICT_CPU
    )


def test_verdict_on_the_recorded_m1_max(tmp_path, shapes):
    """The M1 Max of llmfit issue #570 with a Metal build: one unified pool, Metal's 25999 MiB
    free as llama-server listed it."""
    sysctl, metal = m1_max_recording()
    report = probe.probe(
        tmp_path,
        nvml=FakeNvml.without_driver(),
        run=mac_runner(sysctl),
        system="Darwin",
        backend=cpu_backend(system_info=METAL_INFO, gpu_offload=True, devices=(metal,)),
    )
    machine = estimate.Machine.from_report(report)
    assert (machine.backend, machine.unified_memory) == ("Metal", True)
    assert machine.gpu_bytes == (25999 * MIB,)
    assert estimate.plan(shapes["Q8_0"], machine, 8192).verdict == estimate.VERDICT_FULL


def test_json_has_the_documented_keys(shapes):
    data = estimate.plan(shapes["Q2_K"], cuda(24), 2048, "q8_0").to_json()
    assert {
        "weights_bytes",
        "kv_cache_bytes",
        "total_bytes",
        "verdict",
        "gpu_layers",
        "max_ctx",
    } <= set(data)
    assert data["total_bytes"] == data["ram_bytes"] + data["vram_bytes"]


# -- one real measurement, the benchmark's code path -----------------------------------------------


@pytest.mark.slow
def test_estimate_matches_measured_memory(quant_ladder):
    from app.bench.fit import format_fit_table, run_fit_benchmark

    (row,) = run_fit_benchmark([quant_ladder["Q8_0"]], contexts=(512,))
    assert row["file"] == quant_ladder["Q8_0"].name and row["n_ctx"] == 512
    assert 0.9 <= row["ratio"] <= 1.1, format_fit_table([row])
    # the mmap'd weights are resident and counted
    assert row["mapped_bytes"] >= 0.95 * estimate.shape_from_file(quant_ladder["Q8_0"]).file_size


@pytest.mark.slow
def test_estimate_matches_measured_memory_on_every_zoo_architecture(zoo_models):
    """Weights, KV cache (MLA, sliding window), recurrent state and experts, against the real
    llama.cpp: one tiny model per architecture, measured as ``hearth bench fit`` does."""
    from app.bench.fit import format_fit_table, run_fit_benchmark

    rows = run_fit_benchmark(list(zoo_models.values()), contexts=(512,))
    assert sorted(r["arch"] for r in rows) == sorted(zoo_models)
    assert all(0.95 <= r["ratio"] <= 1.05 for r in rows), format_fit_table(rows)


def test_an_image_projector_is_counted_in_ram_on_cpu_and_in_vram_beside_a_gpu(shapes):
    from dataclasses import replace

    shape = shapes["Q8_0"]
    seeing = replace(shape, projector_bytes=600 * MIB)
    on_cpu = [estimate.estimate(s, 4096, cpu_features=X86) for s in (shape, seeing)]
    assert on_cpu[1].ram_bytes - on_cpu[0].ram_bytes == 600 * MIB
    assert on_cpu[1].vram_bytes == on_cpu[0].vram_bytes == 0
    on_gpu = [estimate.estimate(s, 4096, gpu_layers=31, backend="CUDA") for s in (shape, seeing)]
    assert on_gpu[1].vram_bytes - on_gpu[0].vram_bytes == 600 * MIB
    assert on_gpu[1].ram_bytes == on_gpu[0].ram_bytes
