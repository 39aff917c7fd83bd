"""Discover's "Fits this machine": badges on the rows, and a closer one once a model is opened."""

from __future__ import annotations

import os
import re

import pytest
from PySide6.QtCore import QRect, Qt, QThreadPool
from PySide6.QtGui import QColor

from app.core.fit import estimate
from app.core.fit.devices import cpu_device
from app.core.fit.speed import SpeedMachine
from app.core.fit.speed_here import SpeedHere
from app.core.hardware.cpu_speed import CpuSpeed
from app.core.hub import fit
from app.core.hub.client import HubClient
from app.ui.discover.page import DiscoverPage
from app.ui.discover.result_delegate import FIT_COLOURS, UNKNOWN_COLOURS
from app.ui.discover.results_model import Role
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.screenshots import screenshot

WAIT = 15_000
SMALL = estimate.Machine(ram_bytes=2 * 2**30)


@pytest.fixture(autouse=True)
def pool_drained():
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


@pytest.fixture
def page(qtbot, services, loopback_hub, quant_ladder, tmp_path) -> DiscoverPage:
    real = quant_ladder["Q4_K_M"]  # the real starter model, in a repo whose metadata says 1B
    add_gguf_family(
        loopback_hub,
        "org/Smol-1B-GGUF",
        {real.name: real},
        downloads=90,
        gguf={"total": 1_000_000_000, "architecture": "llama", "context_length": 8192},
    )
    for i, params in enumerate((1, 3)):
        add_gguf_family(
            loopback_hub,
            f"bulk/Model-{params}B-GGUF",
            {gguf_name(f"Model-{params}B", q): b"x" for q in ("Q4_K_M", "Q8_0")},
            downloads=50 - i,
            gguf={"total": params * 10**9, "architecture": "qwen3"},
        )
    widget = DiscoverPage(
        None,
        None,
        tmp_path / "models",
        client=HubClient(loopback_hub.url, token=False, retries=0),
        machine=SMALL,
        machine_info=services.machine,
        cache_file=tmp_path / "discover.json",
        auto_search=False,
    )
    qtbot.addWidget(widget)
    widget.resize(1000, 420)
    widget.show()
    return widget


def badges(page: DiscoverPage) -> dict[str, tuple[str, str]]:
    model = page.results_model
    return {
        model.index(r).data(Role.Id): (
            model.index(r).data(Role.Fit).label,
            model.index(r).data(Qt.ToolTipRole),
        )
        for r in range(model.rowCount())
    }


def painted(page: DiscoverPage, row: int, colour: QColor) -> bool:
    """Whether ``colour`` (a badge's background) is painted in the right half of ``row``."""
    image = page.results.viewport().grab().toImage()
    rect = page.results.visualRect(page.results_model.index(row))
    area = QRect(rect.center().x(), rect.top(), rect.width() // 2, rect.height())
    return any(
        image.pixelColor(x, y) == colour
        for x in range(area.left(), area.right(), 2)
        for y in range(area.top(), area.bottom(), 2)
    )


def test_fit_badges_say_what_they_rest_on(qtbot, page, tmp_path) -> None:
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.fits.setChecked(True)

    shown = badges(page)
    assert list(shown) == ["org/Smol-1B-GGUF", "bulk/Model-1B-GGUF"]  # 3B in Q4_K_M: over 2 GiB
    label, tooltip = shown["org/Smol-1B-GGUF"]
    assert label == "Fits in RAM · from its parameter count"
    assert "Rough estimate from the parameter count" in tooltip and "1.0B parameters" in tooltip
    assert painted(page, 0, FIT_COLOURS[True][0])

    with qtbot.waitSignal(page.model_page.fits_ready, timeout=WAIT):
        page.open_model("org/Smol-1B-GGUF")
    page.show_results()

    label, tooltip = badges(page)["org/Smol-1B-GGUF"]
    assert label == "Fits in RAM · from its file header"
    assert "Estimated from the GGUF header of the smallest file" in tooltip
    assert "SmolLM2-135M-Instruct-Q4_K_M" not in tooltip and "105.5 MB" in tooltip
    assert badges(page)["bulk/Model-1B-GGUF"][0] == "Fits in RAM · from its parameter count"
    assert page.results_model.index(0).data(Role.Fit).basis == fit.BASIS_HEADER
    assert painted(page, 0, FIT_COLOURS[True][0])
    page.grab().save(os.fspath(tmp_path / "discover_fit.png"))


def test_without_the_filter_rows_carry_no_badge(qtbot, page) -> None:
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.search()
    model = page.results_model
    assert model.rowCount() == 3
    assert all(model.index(r).data(Role.Fit) is None for r in range(3))
    assert not painted(page, 0, FIT_COLOURS[True][0])


def test_with_speed_figures_the_badges_say_how_fast_it_would_write(qtbot, page, tmp_path):
    probe = CpuSpeed("test machine", 37e9, 37e9, 92e9, 2)  # as this 2-core machine measures
    page.speeds = SpeedHere(lambda n: SpeedMachine(cpu_device(probe, n)), 1)
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.fits.setChecked(True)
    label, tooltip = badges(page)["org/Smol-1B-GGUF"]
    # 1B parameters in Q4_K_M (about 0.6 GB) read once per token at 37 GB/s: tens a second
    assert re.fullmatch(r"Fits in RAM · ~\d\d tok/s · from its parameter count", label), label
    assert "tokens a second here (estimated)." in tooltip
    with qtbot.waitSignal(page.model_page.fits_ready, timeout=WAIT):
        page.open_model("org/Smol-1B-GGUF")
    page.show_results()
    guessed = float(re.search(r"~([\d.,]+) tok/s", label).group(1).replace(",", ""))
    label, _ = badges(page)["org/Smol-1B-GGUF"]  # the real 105 MB file's header (135M): faster
    found = re.fullmatch(r"Fits in RAM · ~([\d.,]+) tok/s · from its file header", label)
    assert found, label
    assert float(found.group(1).replace(",", "")) > 2 * guessed
    page.grab().save(os.fspath(tmp_path / "discover_speed.png"))


def test_a_model_whose_fit_cannot_be_estimated_is_shown_fit_unknown(
    qtbot, services, loopback_hub, tmp_path, keeper
) -> None:
    """A 135M model was hidden by "Fits this machine" ("No GGUF models match") because its
    listing had no file sizes (issue 19)."""
    add_gguf_family(  # no quant in its file's name: the parameter count is all there is
        loopback_hub, "org/Tiny-GGUF", {"tiny.gguf": b"x"}, downloads=9, gguf={"total": 134515008}
    )
    add_gguf_family(  # nothing tells its size
        loopback_hub, "org/Mystery-GGUF", {"weights.gguf": b"x"}, downloads=8, gguf={"total": 0}
    )
    keeper.apply("light")
    page = DiscoverPage(
        None,
        None,
        tmp_path / "models",
        client=HubClient(loopback_hub.url, token=False, retries=0),
        machine=SMALL,
        machine_info=services.machine,
        cache_file=tmp_path / "discover.json",
        auto_search=False,
    )
    qtbot.addWidget(page)
    page.resize(1000, 420)
    page.show()
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.fits.setChecked(True)
    model = page.results_model
    assert [m.id for m in model.models()] == ["org/Tiny-GGUF", "org/Mystery-GGUF"]
    tiny, mystery = model.index(0), model.index(1)
    assert tiny.data(Role.Fit).label == "Fits in RAM · from its parameter count"
    assert "135M parameters, Q4_K_M" in tiny.data(Qt.ToolTipRole)
    assert mystery.data(Role.Fit) is None and mystery.data(Role.FitUnknown) is True
    assert fit.FIT_UNKNOWN_WHY in mystery.data(Qt.ToolTipRole)
    assert painted(page, 1, UNKNOWN_COLOURS[0]) and not painted(page, 1, FIT_COLOURS[True][0])
    assert "No GGUF models match" not in page.status.text()
    screenshot(page, "discover_fit_unknown.png")
