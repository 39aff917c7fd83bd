"""NVIDIA GPUs through NVML (``pynvml`` from the nvidia-ml-py package).

No driver, no library or no GPU gives an empty list and a reason, never an error. The NVML
module is injectable (``probe(nvml=...)``) so tests can feed values recorded from real cards.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from app.core.hardware.probe import Gpu

log = logging.getLogger("hearth.hardware")
T = TypeVar("T")


def probe(nvml: Any = None) -> tuple[list[Gpu], str]:
    """(NVIDIA GPUs, status): status is "" when NVML answered, else why there is none.
    ``nvml``: the pynvml module or a stand-in with its names (Any: pynvml has no types)."""
    if nvml is None:
        try:
            import pynvml
        except ImportError:
            return [], "nvidia-ml-py is not installed"
        nvml = pynvml
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        log.debug("NVML unavailable: %s", exc)
        return [], _no_driver_reason(exc)
    try:
        driver = _optional(nvml, lambda: _text(nvml.nvmlSystemGetDriverVersion()))
        cuda = _optional(nvml, lambda: _cuda_version(nvml.nvmlSystemGetCudaDriverVersion()))
        gpus = [_device(nvml, i, driver, cuda) for i in range(nvml.nvmlDeviceGetCount())]
        return gpus, "" if gpus else "the NVIDIA driver reports no GPU"
    except nvml.NVMLError as exc:
        log.warning("NVML failed: %s", exc)
        return [], f"NVML error: {exc}"
    finally:
        with contextlib.suppress(nvml.NVMLError):
            nvml.nvmlShutdown()


def _device(nvml: Any, index: int, driver: str | None, cuda: str | None) -> Gpu:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    utilization = _optional(nvml, lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
    temperature = _optional(
        nvml, lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
    )
    return Gpu(
        name=_text(nvml.nvmlDeviceGetName(handle)),
        vendor="NVIDIA",
        vram_total_bytes=int(memory.total),
        vram_free_bytes=int(memory.free),
        vram_used_bytes=int(memory.used),
        index=index,
        source="nvml",
        driver_version=driver,
        cuda_version=cuda,
        utilization_percent=None if utilization is None else int(utilization.gpu),
        temperature_c=None if temperature is None else int(temperature),
        memory_bandwidth=_optional(nvml, lambda: _bandwidth(nvml, handle)),
    )


def _bandwidth(nvml: Any, handle: object) -> float | None:
    """Rated memory bandwidth in bytes/s: bus width (bits) / 8 x the maximum memory clock
    (MHz) x 2, as GDDR and HBM move data on both clock edges (RTX 3090: 384 bits, 9751 MHz
    -> 936 GB/s, its published figure)."""
    if not hasattr(nvml, "nvmlDeviceGetMemoryBusWidth"):  # pynvml before 11.5
        return None
    bus = int(nvml.nvmlDeviceGetMemoryBusWidth(handle))
    clock = int(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_MEM))
    return bus / 8 * clock * 1e6 * 2 if bus > 0 and clock > 0 else None


def _optional(nvml: Any, read: Callable[[], T]) -> T | None:
    """A value some GPUs do not report (utilization under MIG, temperature...): None then."""
    try:
        return read()
    except nvml.NVMLError:
        return None


def _no_driver_reason(exc: Exception) -> str:
    """pynvml raises a subclass per error code (NVMLError_LibraryNotFound...)."""
    name = type(exc).__name__
    if name == "NVMLError_DriverNotLoaded":
        return "the NVIDIA driver is not loaded"
    if name == "NVMLError_LibraryNotFound":
        return "no NVIDIA driver installed"
    return f"NVML: {_text(str(exc))}"


def _cuda_version(value: int) -> str:
    """NVML's 12040 -> "12.4"."""
    return f"{value // 1000}.{value % 1000 // 10}"


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
