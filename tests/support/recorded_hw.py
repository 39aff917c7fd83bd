"""The hardware this test machine does not have, played back from outputs recorded on real
machines (tests/data/hw/, with each file's origin in its README.md).

- ``FakeNvml``: a stand-in for the ``pynvml`` module whose answers are read from a real
  ``nvidia-smi -q -x`` recording: the same numbers NVML gave nvidia-smi, in NVML's units.
- ``mac_runner``: a command runner that answers ``sysctl -n`` and ``system_profiler`` with
  recorded text.
- ``lay_out_sysfs``: an amdgpu ``/sys/class/drm`` tree built from recorded file values.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import SimpleNamespace

import pynvml

DATA = Path(__file__).resolve().parents[1] / "data" / "hw"
MIB = 1 << 20


def nvidia_smi_gpus(name: str) -> dict:
    """What an ``nvidia-smi -q -x`` recording says, as NVML returns it to pynvml.

    nvidia-smi prints NVML's byte counts in whole MiB, so the bytes here are MiB-exact.
    ``used`` is NVML's v1 ``used`` (what ``nvmlDeviceGetMemoryInfo`` returns): total - free,
    which counts the driver's reserved memory that nvidia-smi lists apart."""
    root = ElementTree.parse(DATA / name).getroot()
    devices = []
    for gpu in root.findall("gpu"):
        total = _mib(gpu, "fb_memory_usage/total")
        free = _mib(gpu, "fb_memory_usage/free")
        devices.append(
            {
                "name": gpu.findtext("product_name"),
                "memory": {"total": total, "free": free, "used": total - free},
                "utilization": {
                    "gpu": _number(gpu, "utilization/gpu_util"),
                    "memory": _number(gpu, "utilization/memory_util"),
                },
                "temperature": _number(gpu, "temperature/gpu_temp"),
                "max_mem_clock_mhz": _number(gpu, "max_clocks/mem_clock"),
            }
        )
    major, minor = root.findtext("cuda_version").split(".")
    return {
        "driver_version": root.findtext("driver_version"),
        "cuda_driver_version": int(major) * 1000 + int(minor) * 10,
        "devices": devices,
    }


def _mib(gpu, path: str) -> int:
    return _number(gpu, path) * MIB


def _number(gpu, path: str) -> int:
    """ "24120 MiB", "0 %", "32 C" -> the number."""
    return int(re.match(r"\s*(\d+)", gpu.findtext(path)).group(1))


class FakeNvml:
    """The ``pynvml`` module as NVML answers on the recorded machine (no NVIDIA driver exists
    on the test machine). Errors are pynvml's own classes."""

    NVMLError = pynvml.NVMLError
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
    NVML_CLOCK_MEM = pynvml.NVML_CLOCK_MEM

    def __init__(
        self, recorded: dict, no_utilization: bool = False, bus_width: int | None = None
    ) -> None:
        """``bus_width``: the memory bus width in bits, which nvidia-smi does not print (so
        the recordings lack it): None answers NOT_SUPPORTED, as NVML does on some boards."""
        self.recorded = recorded
        self.no_utilization = no_utilization
        self.bus_width = bus_width
        self.initialized = 0

    @classmethod
    def load(cls, name: str, **kwargs) -> FakeNvml:
        """From a recording in tests/data/hw (``nvidia-smi -q -x`` output)."""
        return cls(nvidia_smi_gpus(name), **kwargs)

    @classmethod
    def without_driver(cls) -> FakeNvml:
        """NVML on a machine with no NVIDIA driver: nvmlInit fails as pynvml's does."""
        return cls({"no_driver": True})

    def nvmlInit(self):  # noqa: N802 - pynvml's names
        if self.recorded.get("no_driver"):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
        self.initialized += 1

    def nvmlShutdown(self):  # noqa: N802
        self.initialized -= 1

    def nvmlSystemGetDriverVersion(self):  # noqa: N802
        return self.recorded["driver_version"]

    def nvmlSystemGetCudaDriverVersion(self):  # noqa: N802
        return self.recorded["cuda_driver_version"]

    def nvmlDeviceGetCount(self):  # noqa: N802
        return len(self.recorded["devices"])

    def nvmlDeviceGetHandleByIndex(self, index):  # noqa: N802
        return self.recorded["devices"][index]

    def nvmlDeviceGetName(self, handle):  # noqa: N802
        return handle["name"].encode()  # older pynvml returns bytes

    def nvmlDeviceGetMemoryInfo(self, handle):  # noqa: N802
        return SimpleNamespace(**handle["memory"])

    def nvmlDeviceGetUtilizationRates(self, handle):  # noqa: N802
        if self.no_utilization:  # as under MIG
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(**handle["utilization"])

    def nvmlDeviceGetMaxClockInfo(self, handle, clock):  # noqa: N802
        assert clock == pynvml.NVML_CLOCK_MEM
        return handle["max_mem_clock_mhz"]

    def nvmlDeviceGetMemoryBusWidth(self, handle):  # noqa: N802
        if self.bus_width is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return self.bus_width

    def nvmlDeviceGetTemperature(self, handle, sensor):  # noqa: N802
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return handle["temperature"]


def sysctl_values(text: str) -> dict[str, str]:
    """``name: value`` lines of recorded sysctl output (``name: old -> new`` when set)."""
    values = {}
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+(?:\.[a-z_0-9]+)+): (.*?)(?: -> (.*))?$", line.strip())
        if match:
            values[match.group(1)] = match.group(3) or match.group(2)
    return values


def mac_runner(
    sysctl: dict[str, str], system_profiler: str | None = None, vulkaninfo: str | None = None
):
    """A command runner answering ``sysctl -n NAME`` (as sysctl does: the value and a
    newline), ``system_profiler`` with the text of a recording and ``vulkaninfo`` likewise;
    anything else is "not found", as on a machine without the command."""
    calls = []

    def run(args: list[str]) -> str:
        calls.append(args)
        if args[:2] == ["sysctl", "-n"] and args[2] in sysctl:
            return sysctl[args[2]] + "\n"
        if args[0] == "system_profiler" and system_profiler:
            return (DATA / system_profiler).read_text()
        if args[0] == "vulkaninfo" and vulkaninfo:
            return (DATA / vulkaninfo).read_text()
        raise FileNotFoundError(args[0])

    run.calls = calls
    return run


def lay_out_sysfs(root: Path, files: dict[str, str]) -> Path:
    """Files of /sys/class/drm (relative paths) under ``root``, each ending in a newline as
    the kernel writes them."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{content}\n")
    return root


def rocm_smi_card(name: str = "rocm-smi_rx7900xt.csv") -> dict[str, str]:
    """The CSV row of a recorded ``rocm-smi --showproductname --showuse --showmeminfo vram
    --csv``, by column name."""
    lines = [
        line
        for line in (DATA / name).read_text().splitlines()
        if line.startswith(("device,", "card"))
    ]
    header, row = (line.split(",") for line in lines[:2])
    return dict(zip(header, row, strict=True))


def cat_outputs(name: str) -> dict[str, str]:
    """``cat /sys/...`` commands and the value printed under each, from a recorded terminal."""
    values, path = {}, None
    for line in (DATA / name).read_text().splitlines():
        match = re.search(r"cat /sys/class/drm/(\S+)$", line)
        if match:
            path = match.group(1)
        elif path and line.strip():
            values[path], path = line.strip(), None
    return values
