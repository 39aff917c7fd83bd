"""What this machine has: CPU, memory, GPUs, and the llama.cpp backend this install was built with."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Gpu:
    name: str
    vendor: str
    vram_total_bytes: int
    vram_free_bytes: int | None = None


@dataclass(frozen=True)
class HardwareReport:
    cpu: str
    cores: int
    threads: int
    ram_total_bytes: int
    ram_available_bytes: int
    disk_free_bytes: int
    backend: str
    gpus: list[Gpu] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def llama_backend() -> str:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    for name, marker in (("CUDA", "CUDA"), ("Metal", "METAL"), ("Vulkan", "VULKAN"),
                         ("ROCm", "HIP")):
        if marker in info.upper():
            return name
    return "CPU"


def probe(models_dir: Path) -> HardwareReport:
    memory = psutil.virtual_memory()
    folder = models_dir if models_dir.exists() else Path.home()
    return HardwareReport(
        cpu=cpu_name(), cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        threads=psutil.cpu_count() or 1, ram_total_bytes=memory.total,
        ram_available_bytes=memory.available, disk_free_bytes=psutil.disk_usage(folder).free,
        backend=llama_backend(),
    )
