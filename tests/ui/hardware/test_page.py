"""The Hardware page as a user sees it: this machine's real values, and machines this one is not:
NVIDIA cards (NVML is a fake answering with real nvidia-smi -q -x recordings), an AMD card
(sysfs laid out from a real rocm-smi recording) and an Apple Silicon Mac (recorded sysctl and
llama-server output). tests/data/hw/README.md says where each recording comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtGui import QGuiApplication

from app.core.hardware import probe as hardware
from app.ui.hardware.page import HardwarePage
from tests.core.hardware.test_probe import (
    A5000X2,
    METAL_INFO,
    RTX3090,
    cpu_backend,
    m1_max_recording,
    recorded_runner,
    rx7900xt_sysfs,
)
from tests.support import this_machine
from tests.support.recorded_hw import FakeNvml, mac_runner
from tests.support.screenshots import screenshot

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
        return hardware.probe(
            Path("/nonexistent"),
            nvml=nvml,
            run=recorded_runner(),
            sysfs_root=Path("/nonexistent"),
            system="Linux",
            backend=backend or cpu_backend(),
        )

    return probe, lambda: hardware.live_sample(nvml=nvml, sysfs_root=Path("/nonexistent"))


def test_shows_this_machine_and_its_nvidia_state(qtbot, make_page):
    """What this machine has, found without Hearth (tests/support/this_machine.py)."""
    page = make_page()
    qtbot.waitUntil(lambda: page.report is not None, timeout=WAIT_MS)
    report = page.report

    assert page.fields["cpu"].text() == report.cpu
    features = page.fields["features"].text()
    assert "REPACK" not in features  # a build option, not a CPU feature
    for feature in ("AVX2", "NEON"):
        if (has := this_machine.cpu_has(feature)) is not None:
            assert (feature in features) is has, feature
    if not this_machine.gpu_offload():
        assert page.fields["backend"].text().startswith("CPU · no GPU offload")
    ram = page.fields["ram"].text()
    # decimal units, as the Hub and file managers show sizes: one convention in the whole app
    assert " GB available of " in ram and "iB" not in ram + page.ram_bar.text()
    nvidia, why_none = this_machine.nvidia()
    others = this_machine.other_gpus()
    assert len(page.cards) >= nvidia
    if nvidia:
        assert page.gpu_state.isHidden()
    elif why_none and others is False:
        assert page.gpu_state.text() == f"No NVIDIA GPU found ({why_none}). Models run on the CPU."
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


def test_rtx_3090_with_a_cpu_build_shows_vram_and_the_install_command(qtbot, make_page):
    """The RTX 3090 of its nvidia-smi -q -x recording (idle, 32 °C), this machine's CPU build."""
    probe, sample = nvidia_machine(RTX3090)
    page = make_page(probe=probe, sample=sample, interval_ms=50)
    page.show()
    qtbot.waitUntil(lambda: len(page.cards) == 1, timeout=WAIT_MS)
    card = page.cards[0]

    assert card.title.text() == "NVIDIA GeForce RTX 3090"
    assert card.details.text() == "NVIDIA · driver 590.44.01 · CUDA 13.1"
    assert card.vram.text() == "VRAM 478.2 MB of 25.8 GB used · 25.3 GB free"
    assert card.vram.value() == round(1000 * 456 / 24576)
    assert card.stats.text() == "0% busy · 32 °C"
    assert page.gpu_state.isHidden()
    assert not page.hint_box.isHidden()
    assert page.hint_command.text().startswith('CMAKE_ARGS="-DGGML_CUDA=on" ')
    assert "CUDA Toolkit" in page.hint_text.text()
    page.copy_hint()
    assert QGuiApplication.clipboard().text() == page.hint_command.text()
    with qtbot.waitSignal(page.sampled, timeout=WAIT_MS):
        pass
    assert len(card.graph.points) >= 2  # the GPU's load, sampled live


def test_two_rtx_a5000_held_by_llama_server(qtbot, make_page):
    """The two RTX A5000 of the recording while llama-server held most of their memory."""
    probe, sample = nvidia_machine(A5000X2)
    page = make_page(probe=probe, sample=sample)
    qtbot.waitUntil(lambda: len(page.cards) == 2, timeout=WAIT_MS)

    first, second = page.cards
    assert (first.title.text(), second.title.text()) == (  # the same name: numbered
        "GPU 0 · NVIDIA RTX A5000",
        "GPU 1 · NVIDIA RTX A5000",
    )
    assert first.vram.text() == "VRAM 24.0 GB of 25.8 GB used · 1.8 GB free"
    assert second.vram.text() == "VRAM 18.6 GB of 25.8 GB used · 7.2 GB free"
    assert (first.stats.text(), second.stats.text()) == ("0% busy · 13 °C", "0% busy · 15 °C")
    assert "cannot use the GPUs below" in page.hint_text.text()
    page.resize(1000, 700)
    screenshot(page, "hardware_two_gpus.png")


def test_m1_max_shows_the_memory_metal_grants(qtbot, make_page, tmp_path):
    """The M1 Max of llmfit issue #570 with a Metal build: unified memory, and the 26000 MiB
    its raised wired limit lets Metal use."""
    sysctl, metal = m1_max_recording()
    backend = cpu_backend(system_info=METAL_INFO, gpu_offload=True, devices=(metal,))
    page = make_page(
        probe=lambda: hardware.probe(
            tmp_path,
            nvml=FakeNvml.without_driver(),
            run=mac_runner(sysctl),
            system="Darwin",
            backend=backend,
        )
    )
    qtbot.waitUntil(lambda: len(page.cards) == 1, timeout=WAIT_MS)

    card = page.cards[0]
    assert card.title.text() == "Apple M1 Max"
    assert card.vram.text() == "Unified memory · Metal may use 27.3 GB"
    assert page.fields["cpu"].text() == "Apple M1 Max"
    assert page.fields["backend"].text().startswith("Metal")
    assert page.hint_box.isHidden()


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


def test_amd_card_reading_changes_through_live_updates(qtbot, make_page, tmp_path):
    """The RX 7900 XT behind a recorded rocm-smi (26.6 MiB of 20 GiB used, idle); a later
    sysfs reading is picked up by the live samples."""
    root = rx7900xt_sysfs(tmp_path / "drm")
    nvml = FakeNvml.without_driver()
    page = make_page(
        probe=lambda: hardware.probe(
            tmp_path,
            nvml=nvml,
            sysfs_root=root,
            system="Linux",
            run=recorded_runner(),
            backend=cpu_backend(),
        ),
        sample=lambda: hardware.live_sample(nvml=nvml, sysfs_root=root, system="Linux"),
        interval_ms=50,
    )
    page.show()
    qtbot.waitUntil(lambda: len(page.cards) == 1, timeout=WAIT_MS)
    (amd,) = page.cards
    assert amd.title.text() == "AMD GPU 0x744c"
    assert amd.vram.text() == "VRAM 27.9 MB of 21.5 GB used · 21.4 GB free"
    assert amd.stats.text() == "0% busy"
    (root / "card0/device/mem_info_vram_used").write_text(str(12 * 1024**3))
    qtbot.waitUntil(
        lambda: amd.vram.text().startswith("VRAM 12.9 GB of 21.5 GB used"), timeout=WAIT_MS
    )  # a later sample saw the new reading
    assert page.gpu_state.text() == "No NVIDIA GPU found (no NVIDIA driver installed)."
    assert page.hint_command.text().startswith('CMAKE_ARGS="-DGGML_VULKAN=on" ')


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_memory_speaks_the_units_of_the_rest_of_hearth_in_both_themes(
    qtbot, make_page, keeper, theme
):
    """One unit convention in the whole app (issue 19): decimal GB/MB, as the Hub and file
    managers show sizes, for RAM and VRAM as for the disk."""
    keeper.apply(theme)
    probe, sample = nvidia_machine(A5000X2)
    page = make_page(probe=probe, sample=sample)
    qtbot.waitUntil(lambda: len(page.cards) == 2, timeout=WAIT_MS)
    shown = [page.fields[k].text() for k in ("ram", "disk")] + [page.ram_bar.text()]
    shown += [card.vram.text() for card in page.cards]
    assert all(" GB" in text or " MB" in text for text in shown), shown
    assert not any("iB" in text for text in shown), shown
    page.resize(1024, 640)
    page.show()  # its live graphs start with their first readings
    qtbot.waitUntil(lambda: len(page.cpu_graph.points) >= 1, timeout=WAIT_MS)
    with qtbot.waitSignal(page.sampled, timeout=WAIT_MS):
        page.take_sample()
    screenshot(page, f"hardware_{theme}.png")


def test_the_live_graphs_say_what_they_wait_for_then_start_at_once(qtbot, make_page) -> None:
    """ "Memory in use" showed two empty boxes until the timer's first ticks (issue 19)."""
    from app.ui.hardware.page import Sparkline

    graph = Sparkline()
    graph.resize(240, 48)
    row = graph.grab().toImage()
    colours = {row.pixelColor(x, 24).name() for x in range(8, 232)}
    assert len(colours) > 2  # the box, its fill and the words "The graph starts ..."
    graph.add(0.2)
    graph.add(0.4)
    row = graph.grab().toImage()
    assert {row.pixelColor(x, 24).name() for x in range(8, 232)} != colours  # a line now

    page = make_page(interval_ms=3_600_000)  # no tick of the timer during the test
    assert page.ram_caption.text() and page.cpu_caption.text()  # never an empty heading
    page.show()
    qtbot.waitUntil(lambda: "%" in page.cpu_caption.text(), timeout=WAIT_MS)  # read at once
    assert len(page.ram_graph.points) >= 2  # the report's reading and the first sample
