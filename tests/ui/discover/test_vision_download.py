"""A vision model's quant downloads with its image projector, from one click on the model page.

Real files: the zoo's tiny vision pair (a random-weight text model and the ``clip`` projector
llama.cpp's mtmd loads), published on the loopback Hub the way vision repos look there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.bench.zoo.vision import vision_pair
from app.core.common.units import format_size
from app.core.downloads.downloader import Downloader
from app.core.downloads.http import RetryPolicy
from app.core.gguf.header import read_local_header
from app.ui.downloads.manager import DownloadManager
from app.ui.downloads.model import Role
from app.ui.quant_picker.model import QuantPickerModel
from tests.conftest import cache_root
from tests.support.hub_repos import add_gguf_family, mmproj_name
from tests.support.screenshots import screenshot
from tests.ui.discover.test_model_page import (  # noqa: F401 - fixtures
    WAIT,
    click_picker,
    open_page,
    picker_row,
    pool_drained,
)

VIS = "ggml-org/Zoo-Vision-Tiny-GGUF"
STEM = "zoo-vision-llama-tiny"


@pytest.fixture
def vision_hub(loopback_hub, starter_gguf):
    pair = vision_pair(starter_gguf, cache_root() / "zoo")
    parameters = sum(t.n_elements for t in read_local_header(pair.model).tensors)
    add_gguf_family(
        loopback_hub,
        VIS,
        {
            f"{STEM}-F16.gguf": pair.model,
            f"{STEM}-Q8_0.gguf": pair.model,  # the same bytes: a second quant to click
            mmproj_name("zoo-vision-tiny", "F16"): pair.mmproj,
            mmproj_name("zoo-vision-tiny", "Q4_0"): os.urandom(2_000),  # smaller, not chosen
        },
        gguf={"total": parameters, "architecture": "llama", "context_length": 2048},
    )
    return loopback_hub, pair


@pytest.fixture
def manager(vision_hub):
    downloads = DownloadManager(
        Downloader(
            endpoint=vision_hub[0].url,
            token=False,
            retry=RetryPolicy(attempts=1, sleep=lambda s: 0),
        )
    )
    yield downloads
    assert downloads.shutdown()


def states(manager) -> dict[str, str]:
    return {key.rsplit("/", 1)[-1]: manager.state(key) or "" for key in manager.model.keys()}


def test_a_quant_downloads_with_its_projector_once(qtbot, services, vision_hub, manager, keeper):
    keeper.apply("light")
    hub, pair = vision_hub
    projector = mmproj_name("zoo-vision-tiny", "F16")
    page = open_page(qtbot, services, hub, VIS, manager)
    model = page.picker.model
    f16 = picker_row(page, "F16")
    extra = pair.mmproj.stat().st_size
    # The row says what else comes with it, and its size and fit count it.
    about_cell = model.index(f16, QuantPickerModel.ABOUT)
    assert about_cell.data().startswith(f"+ projector {format_size(extra)} · ")
    assert f"Downloads with its image projector ({format_size(extra)})" in about_cell.data(
        Qt.ToolTipRole
    )
    # read whole in a 1024-px window: the column is as wide as it, else steps aside
    table = page.picker.table

    def shown() -> str:  # the cell's text as the view elides it in the column's width
        width = table.columnWidth(QuantPickerModel.ABOUT) - 8  # less the cell's margins
        return table.fontMetrics().elidedText(about_cell.data(), Qt.ElideRight, width)

    qtbot.waitUntil(lambda: shown().startswith(f"+ projector {format_size(extra)} "), timeout=WAIT)
    assert not table.isColumnHidden(QuantPickerModel.ABOUT)
    assert table.horizontalHeader().length() <= table.viewport().width()  # no sideways scroll
    assert model.index(f16, QuantPickerModel.SIZE).data() == format_size(
        pair.model.stat().st_size + extra
    )
    tensors = sum(t.nbytes for t in read_local_header(pair.model).tensors)
    assert model.entry(f16).fit.estimate.weights_bytes >= tensors + extra
    about = page.picker.about.text()
    assert f"+ image projector, {format_size(extra)}: it downloads with the model" in about
    screenshot(page, "model_page_vision_light.png")
    keeper.apply("dark")
    screenshot(page, "model_page_vision_dark.png")

    click_picker(qtbot, page, "F16", QuantPickerModel.ACTION)
    assert set(states(manager)) == {f"{STEM}-F16.gguf", projector}  # one projector: the F16
    qtbot.waitUntil(lambda: set(states(manager).values()) == {"done"}, timeout=WAIT)
    model_key = next(k for k in manager.model.keys() if k.endswith(f"{STEM}-F16.gguf"))
    here = Path(manager.model.value(model_key, Role.Path))
    beside = here.parent / projector  # the same snapshot folder: Chat loads it with the model
    assert beside.read_bytes() == pair.mmproj.read_bytes()

    # Another quant of the same repo: its projector is here already, not fetched again.
    click_picker(qtbot, page, "Q8_0", QuantPickerModel.ACTION)
    assert states(manager)[projector] == "done"
    qtbot.waitUntil(lambda: states(manager)[f"{STEM}-Q8_0.gguf"] == "done", timeout=WAIT)
    assert len(states(manager)) == 3
