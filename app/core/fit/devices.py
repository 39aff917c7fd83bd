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
# The CPU: generation reaches the bandwidth the probe measures (read + written bytes of a copy)
# at about this share, and its matrix-vector products run at a share of the probe's one-core
# float32 product rate (``cpu_speed``: many 64x64 products, 93-100 GFLOP/s a core on this 2-core
# VM): a token costs its bytes over bandwidth plus 2 FLOPs per active weight over compute.
# Fitted on the starter model's ladder here (F16 to Q2_K, 1 thread, median token, load ~2):
# 93-182 tok/s against a probe of 40-43 GB/s and 97-100 GFLOP/s; every file of a ladder has
# the same 135M weights, and what each token takes beyond its bytes, 3.3-3.9 ms, is the 0.27
# GFLOP of a token at about 75 GFLOP/s (0.75 of the probe), not a fixed cost; with other
# programs busy beside it the same ladder gave about half that (0.4-0.55), and the K-quants'
# products cost more than Q8_0's or Q4_1's. 0.5 is taken: a figure users plan with should not be
# the best case. (It was first
# fitted as 0.23 of a 220 GFLOP/s figure from an older probe that used both cores; against
# today's one-core probe that predicted the ladder at half its measured speed.) The model zoo's
# tiny models (7M weights, 8 MB) confirm the small fixed cost: their fastest tokens take 0.52 ms
# here even beside other programs; what is left for the graph and sampling is under 0.05 ms.
CPU_EFFICIENCY, CPU_OVERHEAD_S, CPU_PROMPT_EFFICIENCY = 1.0, 0.05e-3, 1.0
CPU_GEN_FLOPS_EFFICIENCY = 0.5
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
    gen_flops_efficiency: float = 0.0  # share of ``flops`` a generated token's products reach
    # (0: generation is bandwidth-bound only, as on GPUs)


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
