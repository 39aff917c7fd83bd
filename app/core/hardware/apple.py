"""Apple Silicon: unified memory, the GPU working-set limit Metal allows, the GPU's name and cores.

Read with ``sysctl`` and ``system_profiler SPDisplaysDataType -json`` (no pyobjc). Commands
run through an injectable ``run(args) -> stdout`` so tests can feed output recorded on Macs.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from app.core.hardware.probe import Gpu, Runner, run_command

log = logging.getLogger("hearth.hardware")

GIB = 1 << 30


@dataclass(frozen=True)
class AppleInfo:
    cpu: str
    ram_total_bytes: int
    metal_limit_bytes: int  # how much of the unified memory the GPU may wire
    wired_limit_set: bool  # iogpu.wired_limit_mb was raised by the user
    gpus: list[Gpu] = field(default_factory=list)


def metal_working_set(ram_bytes: int, wired_limit_mb: int = 0) -> int:
    """The GPU working-set limit: ``iogpu.wired_limit_mb`` when set, else an estimate of
    macOS's default (Metal's recommendedMaxWorkingSetSize: 2/3 of RAM up to 32 GiB, 3/4
    above). The estimate is low on macOS 26 with 128 GB (Metal grants 107.52 GiB there), so a
    Metal build's own figure replaces it (``hardware.probe``)."""
    if wired_limit_mb > 0:
        return wired_limit_mb * 1024 * 1024
    return ram_bytes * 3 // 4 if ram_bytes > 32 * GIB else ram_bytes * 2 // 3


def probe(run: Runner = run_command) -> AppleInfo | None:
    """What an Apple Silicon Mac has; None when the commands are not there (not a Mac)."""
    try:
        ram = int(run(["sysctl", "-n", "hw.memsize"]).strip())
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.debug("sysctl hw.memsize unavailable: %s", exc)
        return None
    wired = _int(_quiet(run, ["sysctl", "-n", "iogpu.wired_limit_mb"]))
    cpu = _quiet(run, ["sysctl", "-n", "machdep.cpu.brand_string"]).strip()
    limit = metal_working_set(ram, wired)
    displays = _quiet(run, ["system_profiler", "SPDisplaysDataType", "-json"])
    gpus = parse_displays(displays, limit)
    if cpu.startswith("Apple") and not any(g.vendor == "Apple" for g in gpus):
        # system_profiler failed or timed out: the chip's GPU is there all the same
        gpus.insert(
            0,
            Gpu(
                name=cpu,
                vendor="Apple",
                vram_total_bytes=limit,
                source="sysctl",
                unified_memory=True,
            ),
        )
    return AppleInfo(
        cpu=cpu or "Apple",
        ram_total_bytes=ram,
        metal_limit_bytes=limit,
        wired_limit_set=wired > 0,
        gpus=gpus,
    )


def parse_displays(text: str, metal_limit_bytes: int) -> list[Gpu]:
    """GPUs from ``system_profiler SPDisplaysDataType -json``. Apple GPUs share the unified
    memory: their "VRAM" is the Metal working-set limit."""
    try:
        entries = json.loads(text or "{}").get("SPDisplaysDataType", [])
    except (ValueError, AttributeError):
        return []
    gpus = []
    for index, entry in enumerate(entries):
        name = entry.get("sppci_model") or entry.get("_name") or "GPU"
        vendor_field = str(entry.get("spdisplays_vendor", ""))
        apple = name.startswith("Apple") or "Apple" in vendor_field
        details = _metal(entry)
        gpus.append(
            Gpu(
                name=name,
                vendor="Apple" if apple else _vendor(vendor_field),
                vram_total_bytes=metal_limit_bytes if apple else _vram(entry),
                index=index,
                source="system_profiler",
                unified_memory=apple,
                cores=_int(entry.get("sppci_cores")) or None,
                details=details,
            )
        )
    return gpus


def _metal(entry: dict[str, Any]) -> str:
    """Metal support in words. macOS 13 and later: ``spdisplays_mtlgpufamilysupport``
    ("spdisplays_metal3" -> "Metal 3"); macOS 11 names the GPU family instead, under
    ``spdisplays_metalfamily`` ("spdisplays_mtlgpufamilyapple7" -> "Metal, Apple 7 family")."""
    support = str(entry.get("spdisplays_mtlgpufamilysupport", ""))
    if support:
        return support.replace("spdisplays_metal", "Metal ").strip()
    family = re.fullmatch(
        r"spdisplays_mtlgpufamily([a-z]+)(\d+)", str(entry.get("spdisplays_metalfamily", ""))
    )
    if family:
        return f"Metal, {family.group(1).capitalize()} {family.group(2)} family"
    return ""


def _vendor(text: str) -> str:
    for vendor in ("AMD", "NVIDIA", "Intel"):
        if vendor.lower() in text.lower():
            return vendor
    return text or "unknown"


def _vram(entry: dict[str, Any]) -> int:
    """Intel Macs' discrete GPUs: "spdisplays_vram": "8 GB" (or "_shared")."""
    text = str(entry.get("spdisplays_vram") or entry.get("spdisplays_vram_shared") or "")
    number, _, unit = text.partition(" ")
    scale = {"GB": GIB, "MB": 1 << 20}.get(unit.strip(), 0)
    return int(float(number) * scale) if number.replace(".", "").isdigit() else 0


def _quiet(run: Runner, args: list[str]) -> str:
    try:
        return run(args)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("%s failed: %s", " ".join(args), exc)
        return ""


def _int(value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0
