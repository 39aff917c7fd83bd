"""What this machine has: CPU, memory, GPUs, and the llama.cpp backend this install was built with.

``probe(models_dir)`` gathers everything (a second or so: it may run ``vulkaninfo`` or
``system_profiler``); ``live_sample()`` re-reads only what changes (memory, CPU load, GPU
memory/utilization/temperature through NVML and sysfs) for the Hardware page's graph. The
GPU probes live in ``hw_nvml`` (NVIDIA), ``hw_apple`` (Apple Silicon) and ``hw_linux_gpu``
(AMD/Intel); the build's backend in ``hw_backend``. Every collaborator is injectable.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:  # the backend is detected when the machine is probed, not on import
    from app.core.hardware.backend import Backend

Runner = Callable[[list[str]], str]  # runs a command, returns its stdout


@dataclass(frozen=True)
class Gpu:
    name: str
    vendor: str  # NVIDIA, AMD, Intel, Apple...
    vram_total_bytes: int  # Apple: the Metal working-set limit of the unified memory
    vram_free_bytes: int | None = None
    vram_used_bytes: int | None = None
    index: int = 0
    source: str = ""  # nvml, system_profiler, sysfs, vulkan
    driver_version: str | None = None
    cuda_version: str | None = None
    utilization_percent: int | None = None
    temperature_c: int | None = None
    unified_memory: bool = False
    cores: int | None = None
    details: str = ""  # e.g. "Metal 3", a Vulkan driver
    device_id: str = ""  # PCI device id, e.g. 0x744c
    memory_bandwidth: float | None = None  # bytes/s, rated (NVML: bus width x memory clock x 2)

    def driver_facts(self) -> list[str]:
        """What the driver tells of it, as shown: "driver 550.54", "CUDA 12.4", "32 GPU cores"."""
        facts = [
            f"driver {self.driver_version}" if self.driver_version else "",
            f"CUDA {self.cuda_version}" if self.cuda_version else "",
            f"{self.cores} GPU cores" if self.cores else "",
            self.details,
        ]
        return [fact for fact in facts if fact]

    def usable_by(self, backend: str) -> bool:
        """Whether a build with this llama.cpp backend can offload to this GPU."""
        if backend == "Vulkan":
            return True
        return backend == {"NVIDIA": "CUDA", "AMD": "ROCm", "Intel": "SYCL", "Apple": "Metal"}.get(
            self.vendor
        )


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
    cpu_features: tuple[str, ...] = ()
    backend_details: str = ""  # llama.cpp's system info line
    llama_cpp_version: str = ""
    gpu_offload_supported: bool = False
    nvidia_status: str = ""  # "" when NVML answered, else why there is no NVIDIA GPU
    install_hint: str | None = None  # the command for an accelerated build, when useful
    install_needs: str = ""
    system: str = ""
    models_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def nvidia_gpus(self) -> list[Gpu]:
        return [g for g in self.gpus if g.vendor == "NVIDIA"]


@dataclass(frozen=True)
class LiveSample:
    ram_total_bytes: int
    ram_available_bytes: int
    cpu_percent: float
    gpus: list[Gpu] = field(default_factory=list)


def run_command(args: list[str], timeout: float = 15) -> str:
    """Run a command and return its stdout (raises OSError or SubprocessError)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=True).stdout


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def llama_backend() -> str:
    """The llama.cpp backend name alone (CPU, CUDA, Metal, Vulkan, ROCm...)."""
    from app.core.hardware import backend as hw_backend

    return hw_backend.detect().name


def probe(
    models_dir: Path,
    *,
    nvml: Any = None,
    run: Runner | None = None,
    sysfs_root: Path | None = None,
    system: str | None = None,
    backend: Backend | None = None,
) -> HardwareReport:
    """Everything at once. ``nvml`` (a pynvml-like module), ``run`` (a command runner),
    ``sysfs_root``, ``system`` (platform.system()) and ``backend`` (an ``hw_backend.Backend``)
    replace the real ones in tests."""
    from app.core.hardware import apple as hw_apple
    from app.core.hardware import backend as hw_backend
    from app.core.hardware import linux_gpu
    from app.core.hardware import nvml as hw_nvml

    system = system or platform.system()
    run = run or run_command
    backend = backend or hw_backend.detect()
    memory = psutil.virtual_memory()
    cpu, ram_total = cpu_name(), memory.total
    gpus, nvidia_status = hw_nvml.probe(nvml)
    if system == "Darwin":
        apple = hw_apple.probe(run)
        if apple is not None:
            cpu, ram_total = apple.cpu or cpu, apple.ram_total_bytes
            gpus += [_metal_granted(g, backend) for g in apple.gpus if g.vendor != "NVIDIA"]
    elif system == "Linux":
        gpus += linux_gpu.probe(sysfs_root or linux_gpu.SYSFS_DRM, run)
    vendors = [g.vendor for g in gpus]
    hint = hw_backend.install_hint(backend, vendors, system)
    needing = next((v for v in vendors if not hw_backend.usable(backend, v)), "")
    return HardwareReport(
        cpu=cpu,
        cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        threads=psutil.cpu_count() or 1,
        ram_total_bytes=ram_total,
        ram_available_bytes=memory.available,
        disk_free_bytes=_free_disk(models_dir),
        backend=backend.name,
        gpus=gpus,
        cpu_features=backend.cpu_features,
        backend_details=backend.system_info,
        llama_cpp_version=backend.version,
        gpu_offload_supported=backend.gpu_offload,
        nvidia_status=nvidia_status,
        install_hint=hint,
        install_needs=hw_backend.install_needs(needing) if hint else "",
        system=system,
        models_dir=str(models_dir),
    )


def live_sample(
    *, nvml: Any = None, sysfs_root: Path | None = None, system: str | None = None
) -> LiveSample:
    """What changes from second to second; cheap enough for a timer (no subprocesses)."""
    from app.core.hardware import linux_gpu
    from app.core.hardware import nvml as hw_nvml

    memory = psutil.virtual_memory()
    gpus, _ = hw_nvml.probe(nvml)
    if (system or platform.system()) == "Linux":
        gpus += linux_gpu.probe(sysfs_root or linux_gpu.SYSFS_DRM, run=None)
    return LiveSample(
        ram_total_bytes=memory.total,
        ram_available_bytes=memory.available,
        cpu_percent=psutil.cpu_percent(interval=None),
        gpus=gpus,
    )


def _metal_granted(gpu: Gpu, backend: Backend) -> Gpu:
    """An Apple GPU with the working set Metal grants as a Metal build reports it (ggml's
    ``MTL0`` device: recommendedMaxWorkingSetSize), in place of the estimate from RAM size."""
    device = next(
        (d for d in backend.devices if d.name.upper().startswith("MTL") and d.total_bytes > 0), None
    )
    if gpu.vendor != "Apple" or device is None:
        return gpu
    return replace(
        gpu,
        vram_total_bytes=device.total_bytes,
        vram_free_bytes=device.free_bytes,
        source=f"{gpu.source}+metal",
    )


def _free_disk(models_dir: Path) -> int:
    folder = Path(models_dir)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return int(psutil.disk_usage(folder).free)
