"""AMD and Intel GPUs on Linux: VRAM from sysfs, names from ``vulkaninfo --summary``.

sysfs (``/sys/class/drm/card*/device/``) gives ``vendor``, ``device`` and, for amdgpu,
``mem_info_vram_total`` / ``mem_info_vram_used``, ``gpu_busy_percent`` and a hwmon
temperature. ``vulkaninfo --summary`` names the devices; CPU devices (Mesa's llvmpipe) are
skipped. NVIDIA cards are left to NVML. The sysfs root and the command runner are injectable.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.hardware.probe import Gpu, Runner, run_command

log = logging.getLogger("hearth.hardware")

SYSFS_DRM = Path("/sys/class/drm")
VENDORS = {
    0x1002: "AMD",
    0x8086: "Intel",
    0x10DE: "NVIDIA",
    0x13B5: "ARM",
    0x5143: "Qualcomm",
    0x106B: "Apple",
}


@dataclass(frozen=True)
class VulkanDevice:
    name: str
    device_type: str  # DISCRETE_GPU, INTEGRATED_GPU, VIRTUAL_GPU, CPU, OTHER
    vendor_id: int
    device_id: int
    driver: str


def parse_vulkaninfo(text: str) -> list[VulkanDevice]:
    """The GPUs listed by ``vulkaninfo --summary`` (CPU devices such as llvmpipe skipped)."""
    devices: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if re.match(r"^GPU\d+:\s*$", line):
            current = {}
            devices.append(current)
        elif current is not None and "=" in line and line.startswith(("\t", " ")):
            key, value = (s.strip() for s in line.split("=", 1))
            current[key] = value
        elif current is not None and line.strip() and not line.startswith(("\t", " ")):
            current = None
    found = []
    for d in devices:
        kind = d.get("deviceType", "").replace("PHYSICAL_DEVICE_TYPE_", "")
        if kind == "CPU" or "llvmpipe" in d.get("deviceName", ""):
            continue
        found.append(
            VulkanDevice(
                d.get("deviceName", "GPU"),
                kind,
                _hex(d.get("vendorID")),
                _hex(d.get("deviceID")),
                d.get("driverName", ""),
            )
        )
    return found


def vulkan_devices(run: Runner = run_command) -> list[VulkanDevice]:
    try:
        return parse_vulkaninfo(run(["vulkaninfo", "--summary"]))
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("vulkaninfo unavailable: %s", exc)
        return []


def sysfs_gpus(root: Path = SYSFS_DRM) -> list[Gpu]:
    """Non-NVIDIA GPUs under ``root`` (``card0``, ``card1``...; connectors skipped)."""
    gpus = []
    cards = sorted(
        (p for p in _listdir(root) if re.fullmatch(r"card\d+", p.name)),
        key=lambda p: int(p.name[4:]),
    )
    for card in cards:
        device = card / "device"
        vendor_id = _hex(_read(device / "vendor"))
        vendor = VENDORS.get(vendor_id, f"0x{vendor_id:04x}")
        if vendor == "NVIDIA" or not vendor_id:
            continue
        total = _number(_read(device / "mem_info_vram_total"))
        used = _number(_read(device / "mem_info_vram_used"))
        temps = sorted(device.glob("hwmon/hwmon*/temp1_input"))
        temp = _number(_read(temps[0])) if temps else None
        gpus.append(
            Gpu(
                name=f"{vendor} GPU {_read(device / 'device') or ''}".strip(),
                vendor=vendor,
                vram_total_bytes=total or 0,
                vram_free_bytes=None if total is None or used is None else total - used,
                vram_used_bytes=used,
                index=int(card.name[4:]),
                source="sysfs",
                utilization_percent=_number(_read(device / "gpu_busy_percent")),
                temperature_c=None if temp is None else temp // 1000,
                unified_memory=total is None,
                device_id=_device_id(device),
            )
        )
    return gpus


def probe(root: Path = SYSFS_DRM, run: Runner | None = run_command) -> list[Gpu]:
    """sysfs cards, named by Vulkan where it lists them; Vulkan-only devices added (no VRAM
    size known). ``run=None`` skips vulkaninfo (for quick refreshes)."""
    gpus = sysfs_gpus(root)
    vulkan = vulkan_devices(run) if run is not None else []
    named, used = [], set()
    for gpu in gpus:
        match = next(
            (
                v
                for v in vulkan
                if VENDORS.get(v.vendor_id) == gpu.vendor
                and f"0x{v.device_id:04x}" == gpu.device_id
                and id(v) not in used
            ),
            None,
        )
        if match:
            used.add(id(match))
            gpu = _renamed(gpu, match.name)
        named.append(gpu)
    for v in vulkan:
        vendor = VENDORS.get(v.vendor_id, "unknown")
        if id(v) not in used and vendor not in ("NVIDIA", "Apple"):
            named.append(
                Gpu(
                    name=v.name,
                    vendor=vendor,
                    vram_total_bytes=0,
                    index=len(named),
                    source="vulkan",
                    unified_memory=v.device_type == "INTEGRATED_GPU",
                    details=v.driver,
                )
            )
    return named


def _renamed(gpu: Gpu, name: str) -> Gpu:
    return replace(gpu, name=name, source="sysfs+vulkan")


def _device_id(device: Path) -> str:
    value = _hex(_read(device / "device"))
    return f"0x{value:04x}" if value else ""


def _listdir(root: Path) -> list[Path]:
    try:
        return list(root.iterdir())
    except OSError:
        return []


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _number(text: str | None) -> int | None:
    return int(text) if text and text.strip().lstrip("-").isdigit() else None


def _hex(text: str | None) -> int:
    try:
        return int(text, 16) if text else 0
    except ValueError:
        return 0
