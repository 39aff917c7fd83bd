"""Which llama.cpp backend this install of llama-cpp-python was built with, and how to get a
GPU build when the machine has a GPU the build cannot use.

Two sources, both from the installed library: ``llama_print_system_info()`` (one section per
backend that reports features, e.g. ``CUDA : ARCHS = 890 | ... | CPU : AVX2 = 1 | ...``) and
ggml's device registry (``CPU``, ``CUDA0``, ``Vulkan0``, ``MTL0``...), reached through ctypes
on the bundled libggml because llama-cpp-python does not wrap it.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.core.compat.llama_cpp import bindings, ggml_device_registry

log = logging.getLogger("hearth.hardware")

# ggml device or section names -> the backend people know
_NAMES = {
    "CUDA": "CUDA",
    "ROCM": "ROCm",
    "HIP": "ROCm",
    "MTL": "Metal",
    "METAL": "Metal",
    "VULKAN": "Vulkan",
    "SYCL": "SYCL",
    "OPENCL": "OpenCL",
    "MUSA": "MUSA",
    "CANN": "CANN",
}
_DEVICE_TYPES = {0: "CPU", 1: "GPU", 2: "iGPU", 3: "accelerator", 4: "meta"}
# The CMake switch for each accelerated build (llama-cpp-python's README)
BUILD_FLAGS = {
    "NVIDIA": ("CUDA", "-DGGML_CUDA=on"),
    "AMD": ("Vulkan", "-DGGML_VULKAN=on"),
    "Intel": ("Vulkan", "-DGGML_VULKAN=on"),
    "Apple": ("Metal", "-DGGML_METAL=on"),
}


@dataclass(frozen=True)
class Device:
    name: str  # ggml's: CPU, CUDA0, Vulkan0, MTL0
    description: str  # e.g. "NVIDIA GeForce RTX 4090"
    kind: str  # CPU, GPU, iGPU, accelerator
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class Backend:
    name: str  # CPU, CUDA, Metal, Vulkan, ROCm, SYCL...
    gpu_offload: bool
    cpu_features: tuple[str, ...]  # as llama.cpp reports them: AVX2, AVX512, NEON...
    system_info: str
    version: str
    devices: tuple[Device, ...] = field(default_factory=tuple)


def parse_system_info(text: str) -> dict[str, dict[str, str]]:
    """``"CUDA : ARCHS = 890 | CPU : AVX2 = 1 | "`` -> {"CUDA": {"ARCHS": "890"}, "CPU": {...}}."""
    sections: dict[str, dict[str, str]] = {}
    current = None
    for item in (part.strip() for part in text.split("|")):
        if " : " in item:
            current, item = (s.strip() for s in item.split(" : ", 1))
            sections.setdefault(current, {})
        if current is not None and "=" in item:
            key, value = (s.strip() for s in item.split("=", 1))
            sections[current][key] = value
    return sections


def backend_name(
    sections: dict[str, dict[str, str]],
    devices: Sequence[Device] = (),
    gpu_offload: bool = False,
    system: str | None = None,
) -> str:
    """The accelerated backend if the build has one, else "CPU"."""
    for device in devices:
        if device.kind in ("GPU", "iGPU"):
            prefix = re.sub(r"\d+$", "", device.name).upper()
            return _NAMES.get(prefix, re.sub(r"\d+$", "", device.name))
    for section in sections:
        if section.upper() in _NAMES:
            return _NAMES[section.upper()]
    if gpu_offload:  # a GPU backend that reports neither devices nor features
        return "Metal" if (system or platform.system()) == "Darwin" else "GPU"
    return "CPU"


def ggml_devices() -> tuple[Device, ...]:
    """ggml's device registry as llama.cpp sees it (empty when it cannot be read)."""
    try:
        lib = ggml_device_registry()
        devices = []
        for i in range(lib.ggml_backend_dev_count()):
            dev = lib.ggml_backend_dev_get(i)
            free, total = ctypes.c_size_t(), ctypes.c_size_t()
            lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
            devices.append(
                Device(
                    name=(lib.ggml_backend_dev_name(dev) or b"").decode(errors="replace"),
                    description=(lib.ggml_backend_dev_description(dev) or b"").decode(
                        errors="replace"
                    ),
                    kind=_DEVICE_TYPES.get(lib.ggml_backend_dev_type(dev), "other"),
                    free_bytes=free.value,
                    total_bytes=total.value,
                )
            )
        return tuple(devices)
    except (ImportError, OSError, AttributeError, ValueError) as exc:
        log.info("ggml's device list is not readable: %s", exc)
        return ()


def detect(
    system_info: str | None = None,
    gpu_offload: bool | None = None,
    devices: tuple[Device, ...] | None = None,
) -> Backend:
    """The installed build's backend (arguments given replace what the library says)."""
    import llama_cpp

    if system_info is None:
        system_info = bindings().llama_print_system_info().decode(errors="replace")
    if gpu_offload is None:
        gpu_offload = bool(bindings().llama_supports_gpu_offload())
    if devices is None:
        devices = ggml_devices()
    sections = parse_system_info(system_info)
    features = tuple(k for k, v in sections.get("CPU", {}).items() if v == "1")
    return Backend(
        name=backend_name(sections, devices, gpu_offload),
        gpu_offload=gpu_offload,
        cpu_features=features,
        system_info=system_info.strip(" |"),
        version=getattr(llama_cpp, "__version__", "?"),
        devices=tuple(devices),
    )


def install_hint(
    backend: Backend,
    gpu_vendors: Iterable[str],
    system: str | None = None,
    python: str | None = None,
) -> str | None:
    """The exact command that installs an accelerated build, when a GPU is present that this
    build cannot use; None when there is nothing to do."""
    system = system or platform.system()
    python = python or sys.executable
    for vendor in gpu_vendors:
        if vendor not in BUILD_FLAGS:
            continue
        if usable(backend, vendor):
            return None
        flag = BUILD_FLAGS[vendor][1]
        pip = (
            f'"{python}" -m pip install --force-reinstall --no-cache-dir --no-deps '
            f'"llama-cpp-python=={backend.version}"'
        )
        if system == "Windows":
            return f'$env:CMAKE_ARGS="{flag}"; & {pip}'
        return f'CMAKE_ARGS="{flag}" {pip}'
    return None


def usable(backend: Backend, vendor: str) -> bool:
    """Whether this build can offload to a GPU of ``vendor``."""
    if not backend.gpu_offload:
        return False
    return backend.name == "Vulkan" or backend.name == {
        "NVIDIA": "CUDA",
        "AMD": "ROCm",
        "Intel": "SYCL",
        "Apple": "Metal",
    }.get(vendor)


def install_needs(vendor: str) -> str:
    """What the accelerated build needs on the machine before the command above works."""
    return {
        "NVIDIA": "the CUDA Toolkit (nvcc) and a C++ compiler",
        "AMD": "the Vulkan SDK headers and glslc (Debian/Ubuntu: libvulkan-dev glslc)",
        "Intel": "the Vulkan SDK headers and glslc (Debian/Ubuntu: libvulkan-dev glslc)",
        "Apple": "the Xcode command line tools",
    }.get(vendor, "a C++ compiler")
