"""The Hardware page as a user sees it: this machine's real values, and a machine with NVIDIA
GPUs (NVML is a fake fed with values recorded from real cards: there is no NVIDIA driver here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtGui import QGuiApplication

from app.core import hardware
from app.ui.pages.hardware_page import HardwarePage
from tests.core.test_hardware import FakeNvml, cpu_backend, recorded_runner

WAIT_MS = 30_000


@pytest.fixture
def make_page(qtbot, hearth_home):
    pages = []

    def make(**kwargs) -> HardwarePage:
        page = HardwarePage(hearth_home, **kwargs)
        qtbot.addWidget(page)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.timer.stop()
    QThreadPool.globalInstance().waitForDone(WAIT_MS)  # no probe left running after the test


def nvidia_machine(name: str, backend=None):
    nvml = FakeNvml.load(name)

    def probe():
        return hardware.probe(Path("/nonexistent"), nvml=nvml, run=recorded_runner(""),
                              sysfs_root=Path("/nonexistent"), system="Linux",
                              backend=backend or cpu_backend())

    return probe, lambda: hardware.live_sample(nvml=nvml, sysfs_root=Path("/nonexistent"))


def test_shows_this_machine_and_the_no_nvidia_state(qtbot, make_page):
    page = make_page()
    qtbot.waitUntil(lambda: page.report is not None, timeout=WAIT_MS)
    report = page.report

    assert page.fields["cpu"].text() == report.cpu
    assert "AVX2" in page.fields["features"].text() and "REPACK" not in page.fields[
        "features"].text()
    assert page.fields["backend"].text().startswith("CPU · no GPU offload")
    assert "GiB available of" in page.fields["ram"].text()
    assert page.gpu_state.text() == ("No NVIDIA GPU found (no NVIDIA driver installed). "
                                     "Models run on the CPU.")
    assert page.cards == [] and page.hint_box.isHidden()
    assert page.refresh_button.isEnabled()


def test_live_graph_updates_on_the_timer(qtbot, make_page):
    page = make_page(interval_ms=50)
    page.show()
    qtbot.waitUntil(lambda: page.report is not None, timeout=WAIT_MS)
    for _ in range(3):
        with qtbot.waitSignal(page.sampled, timeout=WAIT_MS):
            pass
    assert len(page.cpu_graph.points) >= 3 and len(page.ram_graph.points) >= 4
    assert page.cpu_caption.text().startswith("CPU load · ")
    page.hide()
    assert not page.timer.isActive()  # no sampling while the page is not shown


def test_rtx_4090_with_a_cpu_build_shows_vram_and_the_install_command(qtbot, make_page):
    probe, sample = nvidia_machine("nvml_rtx4090.json")
    page = make_page(probe=probe, sample=sample, interval_ms=50)
    page.show()
    qtbot.waitUntil(lambda: len(page.cards) == 1, timeout=WAIT_MS)
    card = page.cards[0]

    assert card.title.text() == "NVIDIA GeForce RTX 4090"
    assert card.details.text() == "NVIDIA · driver 550.54.14 · CUDA 12.4"
    assert card.vram.text() == "VRAM 1.3 GiB of 24.0 GiB used · 22.7 GiB free"
    assert card.vram.value() == round(1000 * 1_389_494_272 / 25_757_220_864)
    assert card.stats.text() == "3% busy · 41 °C"
    assert page.gpu_state.isHidden()
    assert not page.hint_box.isHidden()
    assert page.hint_command.text().startswith('CMAKE_ARGS="-DGGML_CUDA=on" ')
    assert "CUDA Toolkit" in page.hint_text.text()
    page.copy_hint()
    assert QGuiApplication.clipboard().text() == page.hint_command.text()
    with qtbot.waitSignal(page.sampled, timeout=WAIT_MS):
        pass
    assert len(card.graph.points) >= 2  # the GPU's load, sampled live


def test_two_a100_cards(qtbot, make_page):
    probe, sample = nvidia_machine("nvml_a100x2.json")
    page = make_page(probe=probe, sample=sample)
    qtbot.waitUntil(lambda: len(page.cards) == 2, timeout=WAIT_MS)

    busy = page.cards[1]
    assert busy.vram.text() == "VRAM 60.0 GiB of 80.0 GiB used · 20.0 GiB free"
    assert busy.stats.text() == "97% busy · 58 °C"


def test_a_failing_probe_shows_a_message_and_refresh_works_again(qtbot, make_page):
    calls = []

    def probe():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("sysfs unreadable")
        return hardware.probe(Path("/nonexistent"), nvml=FakeNvml.without_driver())

    page = make_page(probe=probe)
    qtbot.waitUntil(lambda: page.error.isVisibleTo(page), timeout=WAIT_MS)
    assert "sysfs unreadable" in page.error.text()
    qtbot.mouseClick(page.refresh_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: page.report is not None, timeout=WAIT_MS)
    assert page.error.isHidden()


def test_amd_card_keeps_its_vulkan_name_through_live_updates(qtbot, make_page, tmp_path):
    from tests.core.test_hardware import lay_out_sysfs

    root = lay_out_sysfs(tmp_path / "drm", "sysfs_rx7900xtx_igpu.json")
    nvml = FakeNvml.without_driver()
    page = make_page(
        probe=lambda: hardware.probe(tmp_path, nvml=nvml, sysfs_root=root, system="Linux",
                                     run=recorded_runner("", "vulkaninfo_radv_intel_llvmpipe.txt"),
                                     backend=cpu_backend()),
        sample=lambda: hardware.live_sample(nvml=nvml, sysfs_root=root, system="Linux"),
        interval_ms=50)
    page.show()
    qtbot.waitUntil(lambda: len(page.cards) == 2, timeout=WAIT_MS)
    amd, intel = page.cards
    (root / "card0/device/mem_info_vram_used").write_text(str(12 * 1024**3))
    qtbot.waitUntil(lambda: amd.vram.text().startswith("VRAM 12.0 GiB of 24.0 GiB used"),
                    timeout=WAIT_MS)  # a later sample saw the new reading
    assert amd.title.text() == "AMD Radeon RX 7900 XTX (RADV GFX1100)"
    assert intel.vram.text() == "Shared memory" and intel.graph.isHidden()
    assert page.gpu_state.text() == "No NVIDIA GPU found (no NVIDIA driver installed)."
