"""Hardware probes: the real ones on this machine, and outputs recorded elsewhere for the rest.

This machine has no NVIDIA driver, no Mac and no AMD card. NVML is therefore a fake module fed
with NVML values of real cards, macOS commands go through an injected runner that answers with
recorded outputs, and an AMD card's sysfs files are laid out under tmp_path (see
tests/data/hw/README.md for where each file comes from).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pynvml
import pytest

from app.core import hardware, hw_apple, hw_backend, hw_linux_gpu, hw_nvml

DATA = Path(__file__).resolve().parents[1] / "data" / "hw"
CPU_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
            "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
CUDA_INFO = "CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | " + CPU_INFO


class FakeNvml:
    """A stand-in for the ``pynvml`` module, answering with values recorded from real cards
    (no NVIDIA driver exists on the test machine). Errors are pynvml's own classes."""

    NVMLError = pynvml.NVMLError
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU

    def __init__(self, recorded: dict, no_utilization: bool = False) -> None:
        self.recorded = recorded
        self.no_utilization = no_utilization
        self.initialized = 0

    @classmethod
    def load(cls, name: str, **kwargs) -> FakeNvml:
        return cls(json.loads((DATA / name).read_text()), **kwargs)

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

    def nvmlDeviceGetTemperature(self, handle, sensor):  # noqa: N802
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return handle["temperature"]


def recorded_runner(name: str, vulkaninfo: str | None = None):
    """A command runner answering sysctl/system_profiler (and vulkaninfo) from recordings."""
    recorded = json.loads((DATA / name).read_text()) if name else {"sysctl": {}}
    calls = []

    def run(args: list[str]) -> str:
        calls.append(args)
        if args[:2] == ["sysctl", "-n"] and args[2] in recorded["sysctl"]:
            return recorded["sysctl"][args[2]]
        if args[0] == "system_profiler" and "system_profiler" in recorded:
            return json.dumps(recorded["system_profiler"])
        if args[0] == "vulkaninfo" and vulkaninfo:
            return (DATA / vulkaninfo).read_text()
        raise FileNotFoundError(args[0])

    run.calls = calls
    return run


def lay_out_sysfs(root: Path, name: str) -> Path:
    for relative, content in json.loads((DATA / name).read_text())["files"].items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def cpu_backend(**changes) -> hw_backend.Backend:
    values = dict(system_info=CPU_INFO, gpu_offload=False, devices=())
    values.update(changes)
    return hw_backend.detect(**values)


# -- this machine, for real -----------------------------------------------------------------------

def test_probe_reports_this_machine(tmp_path):
    report = hardware.probe(tmp_path / "models")

    assert report.cpu and report.cores >= 1 and report.threads >= report.cores
    assert 0 < report.ram_available_bytes <= report.ram_total_bytes
    assert report.disk_free_bytes > 0
    assert report.backend == "CPU" and report.gpu_offload_supported is False
    assert "AVX2" in report.cpu_features or "NEON" in report.cpu_features
    assert report.backend_details.startswith("CPU : ")
    assert report.llama_cpp_version.count(".") == 2
    assert report.gpus == [] and report.install_hint is None
    data = report.to_json()
    assert json.loads(json.dumps(data))["gpus"] == []


def test_real_nvml_without_a_driver_is_a_clean_empty_state():
    gpus, status = hw_nvml.probe()  # the real pynvml: no NVIDIA driver on this machine

    assert gpus == []
    assert status.startswith("no NVIDIA driver")


def test_real_vulkaninfo_output_lists_only_the_cpu_device():
    assert hw_linux_gpu.parse_vulkaninfo((DATA / "vulkaninfo_llvmpipe.txt").read_text()) == []


def test_live_sample_reads_memory_and_load():
    sample = hardware.live_sample()

    assert 0 < sample.ram_available_bytes <= sample.ram_total_bytes
    assert 0.0 <= sample.cpu_percent <= 100.0


# -- NVIDIA through recorded NVML values -----------------------------------------------------------

def test_nvml_rtx4090():
    nvml = FakeNvml.load("nvml_rtx4090.json")
    (gpu,), status = hw_nvml.probe(nvml)

    assert status == "" and nvml.initialized == 0  # shut down again
    assert gpu.name == "NVIDIA GeForce RTX 4090" and gpu.vendor == "NVIDIA"
    assert gpu.vram_total_bytes == 25_757_220_864
    assert gpu.vram_free_bytes + gpu.vram_used_bytes == gpu.vram_total_bytes
    assert (gpu.driver_version, gpu.cuda_version) == ("550.54.14", "12.4")
    assert (gpu.utilization_percent, gpu.temperature_c) == (3, 41)


def test_nvml_two_a100_one_busy_and_no_utilization_under_mig():
    gpus, _ = hw_nvml.probe(FakeNvml.load("nvml_a100x2.json", no_utilization=True))

    assert [g.index for g in gpus] == [0, 1]
    assert gpus[1].vram_free_bytes == 20 * 1024**3
    assert gpus[1].cuda_version == "12.2" and gpus[1].temperature_c == 58
    assert all(g.utilization_percent is None for g in gpus)


def test_probe_with_an_nvidia_gpu_and_a_cpu_build_gives_the_install_command(tmp_path):
    report = hardware.probe(tmp_path, nvml=FakeNvml.load("nvml_rtx4090.json"),
                            run=recorded_runner(""), sysfs_root=tmp_path / "none",
                            system="Linux", backend=cpu_backend())

    assert [g.name for g in report.nvidia_gpus] == ["NVIDIA GeForce RTX 4090"]
    assert report.install_hint.startswith('CMAKE_ARGS="-DGGML_CUDA=on" "')
    assert '-m pip install --force-reinstall --no-cache-dir --no-deps' in report.install_hint
    assert f'"llama-cpp-python=={report.llama_cpp_version}"' in report.install_hint
    assert "CUDA Toolkit" in report.install_needs


def test_cuda_build_with_an_nvidia_gpu_needs_no_hint(tmp_path):
    cuda = cpu_backend(system_info=CUDA_INFO, gpu_offload=True, devices=(hw_backend.Device(
        "CUDA0", "NVIDIA GeForce RTX 4090", "GPU", 24_367_726_592, 25_757_220_864),))
    report = hardware.probe(tmp_path, nvml=FakeNvml.load("nvml_rtx4090.json"),
                            run=recorded_runner(""), sysfs_root=tmp_path / "none",
                            system="Linux", backend=cuda)

    assert report.backend == "CUDA" and report.gpu_offload_supported
    assert report.install_hint is None
    assert "AVX2" in report.cpu_features


def test_windows_hint_uses_powershell_syntax():
    hint = hw_backend.install_hint(cpu_backend(), ["NVIDIA"], system="Windows",
                                   python=r"C:\Hearth\python.exe")
    assert hint.startswith('$env:CMAKE_ARGS="-DGGML_CUDA=on"; & "C:\\Hearth\\python.exe" -m pip')


# -- backend detection -----------------------------------------------------------------------------

def test_system_info_sections_and_names():
    sections = hw_backend.parse_system_info(CUDA_INFO)
    assert sections["CUDA"]["ARCHS"] == "890" and sections["CPU"]["AVX2"] == "1"
    assert hw_backend.backend_name(sections) == "CUDA"
    assert hw_backend.backend_name(hw_backend.parse_system_info(CPU_INFO)) == "CPU"
    vulkan = (hw_backend.Device("CPU", "AMD Ryzen", "CPU", 0, 0),
              hw_backend.Device("Vulkan0", "AMD Radeon RX 7900 XTX", "GPU", 1, 2))
    assert hw_backend.backend_name({}, vulkan) == "Vulkan"  # Vulkan reports no features
    metal = (hw_backend.Device("MTL0", "Apple M2", "GPU", 1, 2),)
    assert hw_backend.backend_name({}, metal) == "Metal"
    assert hw_backend.backend_name({}, (), gpu_offload=True, system="Darwin") == "Metal"


def test_real_backend_and_device_list():
    backend = hw_backend.detect()
    assert backend.name == "CPU" and not backend.gpu_offload
    assert [d.kind for d in backend.devices] == ["CPU"]
    assert backend.devices[0].total_bytes > 0


# -- Apple Silicon through recorded sysctl / system_profiler output --------------------------------

def test_apple_m2_default_working_set():
    info = hw_apple.probe(recorded_runner("mac_m2_16gb.json"))

    assert info.cpu == "Apple M2" and info.ram_total_bytes == 16 * 1024**3
    # macOS's default for 16 GB: 2/3 of RAM (llama.cpp prints 11453.25 MB on these Macs)
    assert info.metal_limit_bytes == 16 * 1024**3 * 2 // 3
    assert not info.wired_limit_set
    (gpu,) = info.gpus
    assert (gpu.name, gpu.vendor, gpu.cores, gpu.details) == ("Apple M2", "Apple", 10, "Metal 3")
    assert gpu.unified_memory and gpu.vram_total_bytes == info.metal_limit_bytes


def test_apple_m3_max_with_a_raised_wired_limit(tmp_path):
    report = hardware.probe(tmp_path, nvml=FakeNvml.without_driver(), run=recorded_runner(
        "mac_m3max_128gb.json"), system="Darwin",
        backend=cpu_backend(system_info="Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 | "
                            "ARM_FMA = 1 | FP16_VA = 1 | DOTPROD = 1 | REPACK = 1 | ",
                            gpu_offload=True))

    assert report.cpu == "Apple M3 Max" and report.ram_total_bytes == 128 * 1024**3
    (gpu,) = report.gpus
    assert gpu.cores == 40 and gpu.vram_total_bytes == 122880 * 1024**2
    assert report.backend == "Metal" and report.install_hint is None
    assert {"NEON", "DOTPROD"} <= set(report.cpu_features)


def test_apple_default_limit_above_32_gb_is_three_quarters():
    assert hw_apple.metal_working_set(128 * 1024**3) == 96 * 1024**3


def test_not_a_mac():
    assert hw_apple.probe(recorded_runner("")) is None


# -- AMD / Intel on Linux through a recorded sysfs tree and vulkaninfo -----------------------------

def test_sysfs_amd_card_and_intel_igpu(tmp_path):
    root = lay_out_sysfs(tmp_path / "drm", "sysfs_rx7900xtx_igpu.json")
    amd, intel = hw_linux_gpu.sysfs_gpus(root)

    assert (amd.vendor, amd.device_id) == ("AMD", "0x744c")
    assert amd.vram_total_bytes == 25_753_026_560
    assert amd.vram_free_bytes == 25_753_026_560 - 1_327_497_216
    assert (amd.utilization_percent, amd.temperature_c) == (4, 46)
    assert intel.vendor == "Intel" and intel.vram_total_bytes == 0 and intel.unified_memory


def test_vulkaninfo_names_the_cards_and_skips_llvmpipe(tmp_path):
    root = lay_out_sysfs(tmp_path / "drm", "sysfs_rx7900xtx_igpu.json")
    gpus = hw_linux_gpu.probe(root, recorded_runner(
        "", vulkaninfo="vulkaninfo_radv_intel_llvmpipe.txt"))

    assert [g.name for g in gpus] == ["AMD Radeon RX 7900 XTX (RADV GFX1100)",
                                      "Intel(R) UHD Graphics 770 (ADL-S GT1)"]
    assert not any("llvmpipe" in g.name for g in gpus)


def test_amd_gpu_with_a_cpu_build_suggests_vulkan(tmp_path):
    root = lay_out_sysfs(tmp_path / "drm", "sysfs_rx7900xtx_igpu.json")
    report = hardware.probe(tmp_path, nvml=FakeNvml.without_driver(), sysfs_root=root,
                            system="Linux",
                            run=recorded_runner("", "vulkaninfo_radv_intel_llvmpipe.txt"),
                            backend=cpu_backend())

    assert report.install_hint.startswith('CMAKE_ARGS="-DGGML_VULKAN=on"')
    assert "glslc" in report.install_needs
    assert report.gpus[0].usable_by("Vulkan") and not report.gpus[0].usable_by("CUDA")


@pytest.mark.parametrize("broken", ["", "not a number\n"])
def test_sysfs_damaged_values_are_skipped(tmp_path, broken):
    card = tmp_path / "card0" / "device"
    card.mkdir(parents=True)
    (card / "vendor").write_text("0x1002\n")
    (card / "mem_info_vram_total").write_text(broken)
    (gpu,) = hw_linux_gpu.sysfs_gpus(tmp_path)
    assert gpu.vram_total_bytes == 0 and gpu.vram_free_bytes is None
