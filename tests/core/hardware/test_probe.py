"""Hardware probes: the real ones on this machine, and outputs recorded on real machines for the
rest.

This machine has no NVIDIA driver, no Mac and no AMD card. NVML is therefore a fake module that
answers with what a real ``nvidia-smi -q -x`` recording says, macOS commands go through a
runner that replies with recorded ``sysctl`` / ``system_profiler`` text, and an amdgpu sysfs
tree is laid out under tmp_path from recorded values. tests/data/hw/README.md says where each
recording comes from; values such as used memory are whatever that machine showed then.
"""

from __future__ import annotations

import json
import re

import pytest

from app.core.hardware import apple, linux_gpu, probe
from app.core.hardware import nvml as hw_nvml
from app.core.hardware.backend import (
    Backend,
    Device,
    backend_name,
    detect,
    install_hint,
    parse_system_info,
)
from tests.support import this_machine
from tests.support.recorded_hw import (
    DATA,
    MIB,
    FakeNvml,
    cat_outputs,
    lay_out_sysfs,
    mac_runner,
    rocm_smi_card,
    sysctl_values,
)

GIB = 1 << 30
RTX3090 = "nvidia-smi_q_x_rtx3090.xml"
A5000X2 = "nvidia-smi_q_x_2x_rtx_a5000.xml"
INTEL_LAPTOP_VULKAN = "vulkaninfo_summary_intel_rplu_mx570.txt"
CPU_INFO = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
CUDA_INFO = "CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | " + CPU_INFO
# llama.cpp's system info line on Apple Silicon with Metal (its format, not a recording)
METAL_INFO = (
    "Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 | ARM_FMA = 1 | FP16_VA = 1 | "
    "DOTPROD = 1 | ACCELERATE = 1 | REPACK = 1 | "
)


def recorded_runner(vulkaninfo: str | None = None):
    """A runner for a Linux machine: ``vulkaninfo`` from a recording, nothing else."""
    return mac_runner({}, None, vulkaninfo)


def rx7900xt_sysfs(root):
    """card0 of the machine whose ``rocm-smi --csv`` is recorded in rocm-smi_rx7900xt.csv.
    rocm-smi reads these very files: VRAM Total/Used Memory (B) are mem_info_vram_total and
    mem_info_vram_used, GPU use (%) is gpu_busy_percent, Card Model the PCI device id. The
    vendor file (0x1002, AMD's PCI id) was not recorded; the card's vendor is."""
    card = rocm_smi_card()
    assert card["Card Vendor"].startswith("Advanced Micro Devices")
    return lay_out_sysfs(
        root,
        {
            "card0/device/vendor": "0x1002",
            "card0/device/device": card["Card Model"],
            "card0/device/mem_info_vram_total": card["VRAM Total Memory (B)"],
            "card0/device/mem_info_vram_used": card["VRAM Total Used Memory (B)"],
            "card0/device/gpu_busy_percent": card["GPU use (%)"],
        },
    )


def cpu_backend(**changes) -> Backend:
    values = dict(system_info=CPU_INFO, gpu_offload=False, devices=())
    values.update(changes)
    return detect(**values)


def m1_max_recording():
    """The M1 Max (32 GB) of llmfit issue #570: its sysctl reply, ggml's device list as
    llama-server printed it, and llmfit's summary of the same Mac (mac_m1max_32gb.txt)."""
    text = (DATA / "mac_m1max_32gb.txt").read_text()
    cpu = re.search(r"^CPU: (.+) \(\d+ cores\)$", text, re.M).group(1)
    ram_gib = float(re.search(r"^Total RAM: ([\d.]+) GB$", text, re.M).group(1))
    name, total, free = re.search(r"MTL0: (.+) \((\d+) MiB, (\d+) MiB free\)", text).groups()
    # sysctl -n hw.memsize prints the bytes; llmfit printed them in GiB ("32.00 GB")
    sysctl = {
        **sysctl_values(text),
        "hw.memsize": str(int(ram_gib * GIB)),
        "machdep.cpu.brand_string": cpu,
    }
    metal = Device("MTL0", name, "GPU", int(free) * MIB, int(total) * MIB)
    return sysctl, metal


# -- this machine, for real -----------------------------------------------------------------------


def test_probe_reports_this_machine(tmp_path):
    report = probe.probe(tmp_path / "models")

    assert report.cpu and report.cores >= 1 and report.threads >= report.cores
    assert 0 < report.ram_available_bytes <= report.ram_total_bytes
    assert report.disk_free_bytes > 0
    # what this machine has, found without Hearth (tests/support/this_machine.py)
    assert report.gpu_offload_supported is this_machine.gpu_offload()
    assert (report.backend == "CPU") is not report.gpu_offload_supported
    for feature in ("AVX2", "NEON"):
        if (has := this_machine.cpu_has(feature)) is not None:
            assert (feature in report.cpu_features) is has, feature
    assert report.backend_details.startswith("CPU : ")
    assert report.llama_cpp_version.count(".") == 2
    nvidia, _ = this_machine.nvidia()
    assert len(report.nvidia_gpus) == nvidia
    if (others := this_machine.other_gpus()) is not None:
        assert (len(report.gpus) > nvidia) == others
    if not report.gpus:
        assert report.install_hint is None
    data = report.to_json()
    assert len(json.loads(json.dumps(data))["gpus"]) == len(report.gpus)


def test_real_nvml_says_what_this_machine_has():
    """The real pynvml: no driver gives a clean empty state and its reason, a driver its GPUs."""
    nvidia, why_none = this_machine.nvidia()
    gpus, status = hw_nvml.probe()

    assert len(gpus) == nvidia
    if nvidia:
        assert status == "" and all(gpu.vendor == "NVIDIA" for gpu in gpus)
    elif why_none:
        assert status == why_none
    else:
        assert status  # a driver without GPUs, or an NVML error: said, never empty


def test_real_vulkaninfo_output_lists_only_the_cpu_device():
    assert linux_gpu.parse_vulkaninfo((DATA / "vulkaninfo_llvmpipe.txt").read_text()) == []


def test_live_sample_reads_memory_and_load():
    sample = probe.live_sample()

    assert 0 < sample.ram_available_bytes <= sample.ram_total_bytes
    assert 0.0 <= sample.cpu_percent <= 100.0


# -- NVIDIA: NVML as real nvidia-smi -q -x recordings show it ------------------------------------


def test_nvml_rtx_3090_as_its_owner_saw_it():
    """A desktop with a GeForce RTX 3090, driver 590.44.01 / CUDA 13.1, idle: NVML's answers as
    its ``nvidia-smi -q -x`` recorded them (telegraf's test data, see README)."""
    nvml = FakeNvml.load(RTX3090)
    (gpu,), status = hw_nvml.probe(nvml)

    assert status == "" and nvml.initialized == 0  # shut down again
    assert gpu.name == "NVIDIA GeForce RTX 3090" and gpu.vendor == "NVIDIA"
    assert gpu.vram_total_bytes == 24576 * MIB and gpu.vram_free_bytes == 24120 * MIB
    # nvidia-smi: 7 MiB used + 450 MiB reserved; NVML's v1 "used" counts both (MiB-rounded)
    assert gpu.vram_used_bytes == 456 * MIB
    assert (gpu.driver_version, gpu.cuda_version) == ("590.44.01", "13.1")
    assert (gpu.utilization_percent, gpu.temperature_c) == (0, 32)


def test_nvml_two_rtx_a5000_while_llama_server_holds_them():
    """A server with two RTX A5000 while llama-server had a model split over both (22430 and
    17246 MiB): its ``nvidia-smi -q -x`` recording (telegraf's test data, see README)."""
    gpus, status = hw_nvml.probe(FakeNvml.load(A5000X2))

    assert status == "" and [g.index for g in gpus] == [0, 1]
    assert [g.name for g in gpus] == ["NVIDIA RTX A5000"] * 2
    assert [g.vram_total_bytes for g in gpus] == [24564 * MIB] * 2
    assert [g.vram_free_bytes for g in gpus] == [1678 * MIB, 6862 * MIB]
    assert [g.temperature_c for g in gpus] == [13, 15]
    assert {g.cuda_version for g in gpus} == {"13.1"}


def test_nvml_without_utilization_readings():
    """The A5000 recording, with utilization refused as NVML refuses it under MIG."""
    gpus, _ = hw_nvml.probe(FakeNvml.load(A5000X2, no_utilization=True))
    assert [g.utilization_percent for g in gpus] == [None, None]
    assert [g.temperature_c for g in gpus] == [13, 15]  # the rest still reads


def test_probe_with_an_nvidia_gpu_and_a_cpu_build_gives_the_install_command(tmp_path):
    """The RTX 3090 recording with this machine's CPU-only llama.cpp build."""
    report = probe.probe(
        tmp_path,
        nvml=FakeNvml.load(RTX3090),
        run=recorded_runner(),
        sysfs_root=tmp_path / "none",
        system="Linux",
        backend=cpu_backend(),
    )

    assert [g.name for g in report.nvidia_gpus] == ["NVIDIA GeForce RTX 3090"]
    assert report.install_hint.startswith('CMAKE_ARGS="-DGGML_CUDA=on" "')
    assert "-m pip install --force-reinstall --no-cache-dir --no-deps" in report.install_hint
    assert f'"llama-cpp-python=={report.llama_cpp_version}"' in report.install_hint
    assert "CUDA Toolkit" in report.install_needs


def test_cuda_build_with_an_nvidia_gpu_needs_no_hint(tmp_path):
    """The RTX 3090 recording with a CUDA build whose device list shows that card."""
    cuda = cpu_backend(
        system_info=CUDA_INFO,
        gpu_offload=True,
        devices=(Device("CUDA0", "NVIDIA GeForce RTX 3090", "GPU", 24120 * MIB, 24576 * MIB),),
    )
    report = probe.probe(
        tmp_path,
        nvml=FakeNvml.load(RTX3090),
        run=recorded_runner(),
        sysfs_root=tmp_path / "none",
        system="Linux",
        backend=cuda,
    )

    assert report.backend == "CUDA" and report.gpu_offload_supported
    assert report.install_hint is None
    assert "AVX2" in report.cpu_features


def test_windows_hint_uses_powershell_syntax():
    hint = install_hint(cpu_backend(), ["NVIDIA"], system="Windows", python=r"C:\Hearth\python.exe")
    assert hint.startswith('$env:CMAKE_ARGS="-DGGML_CUDA=on"; & "C:\\Hearth\\python.exe" -m pip')


# -- backend detection -----------------------------------------------------------------------------


def test_system_info_sections_and_names():
    sections = parse_system_info(CUDA_INFO)
    assert sections["CUDA"]["ARCHS"] == "890" and sections["CPU"]["AVX2"] == "1"
    assert backend_name(sections) == "CUDA"
    assert backend_name(parse_system_info(CPU_INFO)) == "CPU"
    vulkan = (
        Device("CPU", "AMD Ryzen", "CPU", 0, 0),
        Device("Vulkan0", "AMD Radeon RX 7900 XTX", "GPU", 1, 2),
    )
    assert backend_name({}, vulkan) == "Vulkan"  # Vulkan reports no features
    metal = (Device("MTL0", "Apple M2", "GPU", 1, 2),)
    assert backend_name({}, metal) == "Metal"
    assert backend_name({}, (), gpu_offload=True, system="Darwin") == "Metal"


def test_real_backend_and_device_list():
    backend = detect()
    assert backend.name == "CPU" and not backend.gpu_offload
    assert [d.kind for d in backend.devices] == ["CPU"]
    assert backend.devices[0].total_bytes > 0


# -- Apple Silicon: sysctl and system_profiler as recorded on Macs --------------------------------


def test_apple_m1_system_profiler_recording():
    """``system_profiler SPDisplaysDataType -json`` of an M1 Mac on macOS 11, which names the
    GPU family under ``spdisplays_metalfamily`` and leaves ``_name`` an untranslated
    ``kHW_AppleM1Item`` (TorchServe's test data, see README)."""
    (gpu,) = apple.parse_displays(
        (DATA / "system_profiler_SPDisplaysDataType_m1.json").read_text(), 8 * GIB
    )

    assert (gpu.name, gpu.vendor, gpu.cores) == ("Apple M1", "Apple", 7)
    assert gpu.details == "Metal, Apple 7 family"
    assert gpu.unified_memory and gpu.vram_total_bytes == 8 * GIB  # the limit passed in


def test_apple_m1_max_with_a_raised_wired_limit(tmp_path):
    """The M1 Max of llmfit issue #570 (32 GB, ``sudo sysctl iogpu.wired_limit_mb=26000``).
    Its system_profiler output was not recorded, so the runner has none, as when the command
    times out: the chip's GPU is still listed, and a Metal build's own figure (llama-server's
    "MTL0: Apple M1 Max (26000 MiB, 25999 MiB free)") is what the page shows."""
    sysctl, metal = m1_max_recording()
    run = mac_runner(sysctl)

    info = apple.probe(run)
    assert info.wired_limit_set
    assert info.metal_limit_bytes == 26000 * MIB == metal.total_bytes  # what Metal granted
    report = probe.probe(
        tmp_path,
        nvml=FakeNvml.without_driver(),
        run=run,
        system="Darwin",
        backend=cpu_backend(system_info=METAL_INFO, gpu_offload=True, devices=(metal,)),
    )
    assert report.cpu == "Apple M1 Max" and report.ram_total_bytes == 32 * GIB
    (gpu,) = report.gpus
    assert (gpu.name, gpu.vendor, gpu.unified_memory) == ("Apple M1 Max", "Apple", True)
    assert (gpu.vram_total_bytes, gpu.vram_free_bytes) == (26000 * MIB, 25999 * MIB)
    assert report.backend == "Metal" and report.install_hint is None
    assert {"NEON", "DOTPROD"} <= set(report.cpu_features)


def test_apple_m1_max_with_a_cpu_build_suggests_metal(tmp_path):
    """The same recorded M1 Max with a build without Metal: the GPU is found and the page
    offers the Metal build."""
    sysctl, _ = m1_max_recording()
    report = probe.probe(
        tmp_path,
        nvml=FakeNvml.without_driver(),
        run=mac_runner(sysctl),
        system="Darwin",
        backend=cpu_backend(),
    )

    (gpu,) = report.gpus
    assert gpu.vram_total_bytes == 26000 * MIB  # the wired limit, no Metal build to ask
    assert report.install_hint.startswith('CMAKE_ARGS="-DGGML_METAL=on"')
    assert "Xcode" in report.install_needs


def test_default_working_set_matches_what_metal_reported_for_16_gb():
    """llama.cpp's Metal init log on an M1 MacBook Pro with 16 GB (llama-cpp-python issue
    #687): recommendedMaxWorkingSetSize = 10922.67 MB, two thirds of the RAM."""
    line = (DATA / "metal_init_m1_16gb.txt").read_text()
    reported_mib = float(re.search(r"recommendedMaxWorkingSetSize\s+= ([\d.]+) MB", line)[1])

    assert round(apple.metal_working_set(16 * GIB) / MIB, 2) == reported_mib


def test_working_set_on_128_gb_estimate_and_wired_limit():
    """An M5 Max with 128 GB on macOS 26 (antirez/ds4 #893): Metal granted 107.52 GiB stock and
    112.00 GiB with iogpu.wired_limit_mb = 114688. The wired limit is read exactly; the stock
    estimate (3/4 of RAM) stays below what Metal granted, which is why a Metal build's own
    figure replaces it."""
    stock, wired = (
        float(v)
        for v in re.findall(
            r"recommendedMaxWorkingSetSize: ([\d.]+) GiB",
            (DATA / "metal_working_set_m5max_128gb.txt").read_text(),
        )
    )

    assert apple.metal_working_set(128 * GIB, 114688) / GIB == wired
    assert apple.metal_working_set(128 * GIB) / GIB == 96 < stock


def test_not_a_mac():
    assert apple.probe(mac_runner({})) is None


# -- AMD / Intel on Linux: sysfs and vulkaninfo as recorded ----------------------------------------


def test_amdgpu_sysfs_of_an_8_gb_card(tmp_path):
    """amdgpu's VRAM files as ``cat`` printed them on a NixOS desktop with an 8 GB AMD card
    (elementary/monitor issue #369, while a game held most of it). The vendor file was not
    recorded; 0x1002 is AMD's PCI id, which every amdgpu card carries."""
    root = lay_out_sysfs(
        tmp_path / "drm", {**cat_outputs("sysfs_amdgpu_8gb.txt"), "card0/device/vendor": "0x1002"}
    )
    (gpu,) = linux_gpu.sysfs_gpus(root)

    assert (gpu.name, gpu.vendor) == ("AMD GPU", "AMD")
    assert (gpu.vram_total_bytes, gpu.vram_used_bytes) == (8_573_157_376, 6_812_925_952)
    assert gpu.vram_free_bytes == 8_573_157_376 - 6_812_925_952 and not gpu.unified_memory


def test_rx_7900_xt_from_its_rocm_smi_values(tmp_path):
    """The sysfs files behind a recorded ``rocm-smi --csv`` of a Radeon RX 7900 XT (marimo
    issue #9237), see ``rx7900xt_sysfs``."""
    (gpu,) = linux_gpu.sysfs_gpus(rx7900xt_sysfs(tmp_path / "drm"))

    assert (gpu.vendor, gpu.device_id, gpu.name) == ("AMD", "0x744c", "AMD GPU 0x744c")
    assert (gpu.vram_total_bytes, gpu.vram_used_bytes) == (21_458_059_264, 27_856_896)
    assert gpu.utilization_percent == 0 and gpu.temperature_c is None  # no hwmon recorded


def test_amd_gpu_with_a_cpu_build_suggests_vulkan(tmp_path):
    """The recorded RX 7900 XT with this machine's CPU-only build."""
    report = probe.probe(
        tmp_path,
        nvml=FakeNvml.without_driver(),
        sysfs_root=rx7900xt_sysfs(tmp_path / "drm"),
        system="Linux",
        run=recorded_runner(),
        backend=cpu_backend(),
    )

    assert [g.vendor for g in report.gpus] == ["AMD"]
    assert report.install_hint.startswith('CMAKE_ARGS="-DGGML_VULKAN=on"')
    assert "glslc" in report.install_needs
    assert report.gpus[0].usable_by("Vulkan") and not report.gpus[0].usable_by("CUDA")


def test_vulkaninfo_of_an_intel_laptop_with_an_nvidia_card():
    """``vulkaninfo --summary`` of an Ubuntu 25.04 laptop with Intel Raptor Lake graphics and a
    GeForce MX570 A (cirocavani/mechatrek-bevy, see README): both GPUs, not llvmpipe."""
    devices = linux_gpu.parse_vulkaninfo((DATA / INTEL_LAPTOP_VULKAN).read_text())

    assert [(d.name, d.device_type, d.vendor_id, d.device_id) for d in devices] == [
        ("Intel(R) Graphics (RPL-U)", "INTEGRATED_GPU", 0x8086, 0xA7AC),
        ("NVIDIA GeForce MX570 A", "DISCRETE_GPU", 0x10DE, 0x25AA),
    ]


def test_vulkan_names_the_intel_card_and_leaves_nvidia_to_nvml(tmp_path):
    """The laptop's vulkaninfo with its i915 card in sysfs (vendor and device ids as vulkaninfo
    lists them; i915 has no VRAM files): the card gets Vulkan's name, the NVIDIA card is left
    to NVML."""
    root = lay_out_sysfs(
        tmp_path / "drm", {"card1/device/vendor": "0x8086", "card1/device/device": "0xa7ac"}
    )
    gpus = linux_gpu.probe(root, recorded_runner(vulkaninfo=INTEL_LAPTOP_VULKAN))

    assert [(g.name, g.source) for g in gpus] == [("Intel(R) Graphics (RPL-U)", "sysfs+vulkan")]
    assert gpus[0].unified_memory and gpus[0].vram_total_bytes == 0


@pytest.mark.parametrize("broken", ["", "not a number\n"])
def test_sysfs_damaged_values_are_skipped(tmp_path, broken):
    card = tmp_path / "card0" / "device"
    card.mkdir(parents=True)
    (card / "vendor").write_text("0x1002\n")
    (card / "mem_info_vram_total").write_text(broken)
    (gpu,) = linux_gpu.sysfs_gpus(tmp_path)
    assert gpu.vram_total_bytes == 0 and gpu.vram_free_bytes is None
