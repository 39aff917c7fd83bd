"""The devices a model runs on, as the speed estimate needs them: memory bandwidth, compute, and
how much of each llama.cpp reaches.

Where the numbers come from, best first: the CPU is measured (``hardware.cpu_speed``); an
NVIDIA GPU's bandwidth comes from NVML (bus width x memory clock x 2); Apple chips and common
GPUs from the table below (the makers' published specifications, sources in
resources/data/SOURCES.md). The efficiency factors (share of the rated bandwidth llama.cpp
reaches while generating, and a fixed cost per token) are fitted to published llama.cpp
results, also cited there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.hardware.cpu_speed import CpuSpeed
    from app.core.hardware.probe import Gpu

GB, TFLOPS = 1e9, 1e12

# name pattern -> (memory bandwidth GB/s, FP16 dense TFLOPS: tensor cores with FP32
# accumulation for NVIDIA, the GPU's FP32 rate for Apple and AMD). Longest names first, so
# "M1 Max" is not read as "M1".
GPU_TABLE: tuple[tuple[str, float, float], ...] = (
    ("M1 Ultra", 800, 21.0),
    ("M1 Max", 400, 10.4),
    ("M1 Pro", 200, 5.2),
    ("M1", 68.25, 2.6),
    ("M2 Ultra", 800, 27.2),
    ("M2 Max", 400, 13.6),
    ("M2 Pro", 200, 6.8),
    ("M2", 100, 3.6),
    ("M3 Ultra", 819, 28.4),
    ("M3 Max", 400, 14.2),
    ("M3 Pro", 150, 7.4),
    ("M3", 100, 4.1),
    ("M4 Max", 546, 17.0),
    ("M4 Pro", 273, 9.2),
    ("M4", 120, 4.3),
    ("RTX 5090", 1792, 209.5),
    ("RTX 5080", 960, 112.6),
    ("RTX 4090", 1008, 165.2),
    ("RTX 4080", 717, 97.5),
    ("RTX 4070 Ti", 504, 80.2),
    ("RTX 4070", 504, 58.3),
    ("RTX 4060 Ti", 288, 44.1),
    ("RTX 4060", 272, 30.2),
    ("RTX 3090 Ti", 1008, 80.0),
    ("RTX 3090", 936, 71.0),
    ("RTX 3080", 760, 59.5),
    ("RTX 3070", 448, 40.6),
    ("RTX 3060 Ti", 448, 32.4),
    ("RTX 3060", 360, 25.6),
    ("RTX A6000", 768, 77.4),
    ("RTX A5000", 768, 55.6),
    ("RX 7900 XTX", 960, 61.4),
    ("RX 7900 XT", 800, 51.6),
    ("RX 6800 XT", 512, 20.7),
)

# backend -> (generation efficiency: share of rated bandwidth, fixed seconds per token,
# prompt efficiency: share of the compute rate). Sources: resources/data/SOURCES.md.
EFFICIENCY = {
    "Metal": (0.88, 4.4e-3, 0.65),
    "CUDA": (0.85, 1.5e-3, 0.65),
    "ROCm": (0.75, 1.5e-3, 0.5),
    "Vulkan": (0.8, 1.5e-3, 0.5),
    "SYCL": (0.7, 2.0e-3, 0.5),
}
# The CPU: generation reaches the bandwidth the probe measures (read + written bytes of a copy),
# and its matrix-vector products cost compute on top: a token costs its bytes over bandwidth plus,
# per active weight, the work ggml's CPU kernel for that weight's type does, in FLOPs of the
# probe's one-core float32 product rate (``cpu_speed``: many 64x64 products, 85-99 GFLOP/s a core
# on this 2-core VM), plus a start-up cost per matrix product (a batched per-head product counts
# once per head, an expert tensor once: llama.cpp's ``mul_mat_id`` runs its used experts together),
# and a smaller one per vector operation (a norm, a bias). The cost differs by type, not by bytes
# alone: the types whose kernels unpack odd bit widths or add a per-block offset (Q4_1, Q5_0,
# Q5_1, Q3_K, Q5_K, IQ4_XS) do about twice the work per weight of Q8_0 or of the types ggml
# repacks into interleaved rows for AVX2/AVX-512 (Q4_0, Q4_K, IQ4_NL). The starter ladder's
# Q3_K_M and Q4_K_M are mostly Q4_0 and Q5_0 (their 576-wide rows do not divide into K-quant
# blocks). Without the per-matrix cost, models with many small matrices (the ladder's 30 layers,
# deepseek2's per-head products) measured up to 1.33x slower than predicted.
#
# Fitted here (1 thread, ``hearth bench speed``'s rounds, load average 4-7 from other programs)
# by least squares over 58 rows: the model zoo's medium llama (294M weights) written in each
# type alone (llama.cpp's quantizer with ``pure``), the starter ladder twice, and the zoo's small
# and medium files of every architecture; within 0.89-1.14 of every row (tables in
# resources/data/SOURCES.md, "CPU cost per weight type"). The per-token fixed cost (graph,
# sampling) is the model zoo's tiny models': their fastest tokens take 0.52 ms here.
# More threads: compute scales with them (``CpuSpeed.flops``), bandwidth up to the every-core
# copy. Not verified here: with 2 threads on this busy 2-core VM the zoo's medium llama ran no
# faster than with 1 (Q8_0 76.8 against 74.3 tok/s; the second core was other programs'), so
# 2 threads read 1.5-1.9x optimistic; Hearth loads physical cores but one, 1 thread here.
CPU_EFFICIENCY, CPU_OVERHEAD_S, CPU_PROMPT_EFFICIENCY = 1.0, 0.05e-3, 1.0
# Share of the probe's rate the products reach. The table below was fitted under load (the probe
# at 86 GFLOP/s a core); on a quiet machine (load average < 2) the probe reads 91-97 and gains
# more than ggml's kernels do: a least-squares fit over five quiet runs of ``hearth bench speed``
# (180 rows; the table's scale, the two start-up costs below, 0.05 ms fixed) put the products at
# 1.27x the table's cost. This one factor scales the whole table, the types' relative costs kept.
CPU_GEN_FLOPS_EFFICIENCY = 0.79
# ggml type -> probe FLOPs per weight of a generated token's product on the CPU.
CPU_WEIGHT_COST = {
    0: 0.8,  # F32 (norms, small tensors: taken as F16)
    1: 0.8,  # F16
    2: 1.1,  # Q4_0 (repacked)
    3: 2.4,  # Q4_1
    6: 2.2,  # Q5_0
    7: 2.3,  # Q5_1
    8: 1.1,  # Q8_0
    10: 1.3,  # Q2_K
    11: 2.1,  # Q3_K
    12: 0.7,  # Q4_K (repacked)
    13: 1.7,  # Q5_K
    14: 0.9,  # Q6_K
    20: 1.0,  # IQ4_NL (repacked)
    23: 2.0,  # IQ4_XS
    30: 1.6,  # BF16
}
CPU_MATRIX_COST = 0.38e6  # probe FLOPs to start one matrix product (about 5 us here)
# A vector operation (a norm's scale, a bias, gpt-oss's attention sinks) starts cheaper: one plain
# loop over a row, no activations quantized for a kernel (about 1.3 us here, a quarter of a
# product's). Costed as a product's start, the zoo's gpt-oss small (89 vectors to 65 matrices)
# was predicted 0.76-0.84 of its measured speed in quiet runs.
CPU_VECTOR_COST = 0.095e6
CPU_WEIGHT_COST_OTHER = 2.0  # types not measured (IQ1-IQ3, MXFP4, ...): as the costlier group
# A file known by size only (no header read): its quant's main weight type.
QUANT_WEIGHT_TYPE = {
    "F32": 0, "F16": 1, "BF16": 30, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8,
    "Q2_K": 10, "Q3_K": 11, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "IQ4_NL": 20, "IQ4_XS": 23,
}  # fmt: skip
# A GPU known by bandwidth only (NVML, not in the table): compute guessed from bandwidth.
FLOPS_PER_BYTE = 60.0


@dataclass(frozen=True)
class Device:
    """One device's side of the estimate. ``bandwidth`` in bytes/s, ``flops`` in FLOP/s."""

    name: str
    kind: str  # "cpu" or "gpu"
    bandwidth: float
    flops: float
    efficiency: float  # share of ``bandwidth`` generation reaches
    overhead_s: float  # fixed time per generated token
    prompt_efficiency: float
    source: str  # "measured", "nvml", "table"
    gen_flops_efficiency: float = 0.0  # share of ``flops`` a generated token's products reach,
    # in ``CPU_WEIGHT_COST``'s FLOPs (0: generation is bandwidth-bound only, as on GPUs)


def gpu_spec(name: str) -> tuple[float, float] | None:
    """(bandwidth bytes/s, FLOP/s) of a GPU or Apple chip by its name, None when unknown."""
    for pattern, bandwidth, flops in GPU_TABLE:
        if re.search(rf"\b{re.escape(pattern)}\b", name, re.IGNORECASE):
            return bandwidth * GB, flops * TFLOPS
    return None


def gpu_device(gpu: Gpu, backend: str) -> Device | None:
    """A GPU (``hardware.Gpu``) as the estimate sees it, None when its speed is unknown.
    NVML's measured bus gives the bandwidth when present; the table gives the rest."""
    spec = gpu_spec(gpu.name)
    nvml_bandwidth = getattr(gpu, "memory_bandwidth", None)
    if nvml_bandwidth:
        flops = spec[1] if spec else nvml_bandwidth * FLOPS_PER_BYTE
        bandwidth, source = float(nvml_bandwidth), "nvml"
    elif spec:
        (bandwidth, flops), source = spec, "table"
    else:
        return None
    efficiency, overhead, prompt = EFFICIENCY.get(backend, EFFICIENCY["Vulkan"])
    return Device(gpu.name, "gpu", bandwidth, flops, efficiency, overhead, prompt, source)


def cpu_weight_cost(ggml_type: int) -> float:
    """Probe FLOPs per weight of ``ggml_type`` in a generated token's product on the CPU."""
    return CPU_WEIGHT_COST.get(ggml_type, CPU_WEIGHT_COST_OTHER)


def cpu_quant_cost(quant: str | None) -> float:
    """As ``cpu_weight_cost``, for a file known by its quant's name only (``Q4_K_M``)."""
    name = (quant or "").upper()
    base = re.sub(r"_(XXS|XS|S|M|L)$", "", name) if name not in QUANT_WEIGHT_TYPE else name
    ggml_type = QUANT_WEIGHT_TYPE.get(base)
    return CPU_WEIGHT_COST_OTHER if ggml_type is None else cpu_weight_cost(ggml_type)


def cpu_device(cpu_speed: CpuSpeed, threads: int, name: str = "CPU") -> Device:
    """The CPU with ``threads`` llama.cpp threads, from the probe (``hardware.CpuSpeed``)."""
    return Device(
        name,
        "cpu",
        cpu_speed.bandwidth(threads),
        cpu_speed.flops(threads),
        CPU_EFFICIENCY,
        CPU_OVERHEAD_S,
        CPU_PROMPT_EFFICIENCY,
        "measured",
        CPU_GEN_FLOPS_EFFICIENCY,
    )
