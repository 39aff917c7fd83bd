"""hearth hw: what this machine has for running models."""

from __future__ import annotations

import json

from app.core.common.paths import Paths
from app.core.common.units import format_size
from app.core.hardware import probe
from app.core.hardware.probe import Gpu, HardwareReport

# llama.cpp's CPU "features" that are build options, not instruction sets
BUILD_OPTIONS = {"LLAMAFILE", "OPENMP", "REPACK", "ACCELERATE", "KLEIDIAI"}


def add_parser(commands):
    parser = commands.add_parser(
        "hw",
        help="Show this machine's CPU, memory, GPUs and llama.cpp build",
        description="Show the processor, memory, GPUs and the llama.cpp backend Hearth runs "
        "models with.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def run(args, paths: Paths) -> int:
    report = probe.probe(paths.models_dir)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    print("\n".join(describe(report)))
    return 0


def describe(report: HardwareReport) -> list[str]:
    features = [f for f in report.cpu_features if f not in BUILD_OPTIONS]
    lines = [
        f"Processor     {report.cpu} ({report.cores} cores, {report.threads} threads)",
        f"CPU features  {', '.join(features) or 'none reported'}",
        f"Memory        {format_size(report.ram_available_bytes)} available of "
        f"{format_size(report.ram_total_bytes)}",
        f"Free disk     {format_size(report.disk_free_bytes)} where models are kept",
        f"llama.cpp     {report.backend} build (llama-cpp-python {report.llama_cpp_version}), "
        f"GPU offload {'supported' if report.gpu_offload_supported else 'not supported'}",
    ]
    if not report.gpus:
        lines.append(f"GPUs          none found ({report.nvidia_status or 'no GPU'})")
    elif not report.nvidia_gpus and report.nvidia_status:
        lines.append(f"NVIDIA        none ({report.nvidia_status})")
    for gpu in report.gpus:
        lines.append(f"GPU {gpu.index:<9} {describe_gpu(gpu)}")
    if report.install_hint:
        lines += [
            "",
            "This GPU is not used by the installed llama.cpp build. To install an "
            f"accelerated build (needs {report.install_needs}):",
            f"  {report.install_hint}",
        ]
    return lines


def describe_gpu(gpu: Gpu) -> str:
    parts = [gpu.name]
    if gpu.unified_memory and gpu.vendor == "Apple":
        parts.append(f"unified memory, Metal may use {format_size(gpu.vram_total_bytes)}")
    elif gpu.vram_total_bytes:
        free = "" if gpu.vram_free_bytes is None else f", {format_size(gpu.vram_free_bytes)} free"
        parts.append(f"{format_size(gpu.vram_total_bytes)} VRAM{free}")
    parts += gpu.driver_facts()
    if gpu.utilization_percent is not None:
        parts.append(f"{gpu.utilization_percent}% busy")
    if gpu.temperature_c is not None:
        parts.append(f"{gpu.temperature_c} °C")
    return ", ".join(parts)
