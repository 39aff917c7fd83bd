"""What this machine really has, found without Hearth's code, for the tests of the real probe.

Those tests assert what the probe found; the truth comes from here (the kernel's CPU flags,
pynvml asked directly, the kernel's list of display devices), so that they pass on a
developer's machine with an NVIDIA card or without AVX2 as they do on the test machine.
``None`` means this machine cannot tell; a test then leaves that one check out.
"""

from __future__ import annotations

import platform
from pathlib import Path

# What Hearth says when NVML does not answer, by pynvml's error class.
NO_NVIDIA = {
    "NVMLError_LibraryNotFound": "no NVIDIA driver installed",
    "NVMLError_DriverNotLoaded": "the NVIDIA driver is not loaded",
}


def cpu_has(feature: str) -> bool | None:
    """Whether the CPU has ``feature`` ("AVX2" or "NEON"): /proc/cpuinfo's flags on Linux x86;
    every 64-bit ARM has NEON and no AVX2, no x86 has NEON."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return feature == "NEON"
    if machine not in ("x86_64", "amd64"):
        return None
    if feature == "NEON":
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None  # not Linux: no flags to read
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in cpuinfo.splitlines()
            if line.startswith("flags")
        ),
        None,
    )
    return None if flags is None else feature.lower() in flags


def nvidia() -> tuple[int, str | None]:
    """(NVIDIA GPUs the driver reports, what Hearth should say when there are none: None when
    the driver answered or its error has no fixed sentence)."""
    try:
        import pynvml
    except ImportError:
        return 0, "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return 0, NO_NVIDIA.get(type(exc).__name__)
    try:
        return pynvml.nvmlDeviceGetCount(), None
    finally:
        pynvml.nvmlShutdown()


def other_gpus() -> bool | None:
    """Whether the kernel lists a display device not made by NVIDIA (AMD, Intel, a virtual
    one); None off Linux."""
    if platform.system() != "Linux":
        return None
    vendors = [p.read_text().strip() for p in Path("/sys/class/drm").glob("card*/device/vendor")]
    return any(vendor != "0x10de" for vendor in vendors)


def gpu_offload() -> bool:
    """Whether the installed llama.cpp build can offload to a GPU, asked of it directly."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())
