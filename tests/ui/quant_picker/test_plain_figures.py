"""Saying it plainly in the quant picker (issue 19): one labelled way to say bits per weight,
and a recommendation that agrees with the words beside it. My Models with the starter (Q4_1)
and a downloaded Q4_K_M of the same model, as a newcomer has them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool

from app.core.fit import estimate
from app.core.library import catalog
from app.ui.my_models.library_model import LibraryModel
from app.ui.my_models.page import ModelsPage
from app.ui.quant_picker.model import QuantPickerModel, QuantRole
from tests.support.screenshots import screenshot

WAIT = 20_000


@pytest.fixture(autouse=True)
def pool_drained():
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


@pytest.fixture
def theme() -> str:
    return "light"


@pytest.fixture
def page(qtbot, services, quant_ladder, starter_home, tmp_path, keeper, theme):
    folder = tmp_path / "downloaded"
    folder.mkdir()
    os.link(quant_ladder["Q4_K_M"], folder / Path(quant_ladder["Q4_K_M"]).name)
    keeper.apply(theme)  # before the page is built, as the studio does
    library = LibraryModel()
    page = ModelsPage(
        library,
        machine=estimate.Machine(ram_bytes=8 * 2**30),
        measure_store=services.stores.measurements,
        machine_info=services.machine,
    )
    qtbot.addWidget(page)
    page.resize(1280, 760)
    page.show()
    library.set_models(
        catalog.list_models(
            starter_home.models_dir,
            tmp_path / "hf",
            [str(folder)],
            home=tmp_path / "home",
            environ={},
            header_cache=catalog.HeaderCache(tmp_path / "headers.json"),
        )
    )
    page.select(*(str(m.path) for m in library.models() if m.quant == "Q4_1"))
    with qtbot.waitSignal(page.picker.ready, timeout=WAIT):
        qtbot.mouseClick(page.buttons["Quants"], Qt.MouseButton.LeftButton)
    return page


def cell(model: QuantPickerModel, quant: str, column: int, role=Qt.ItemDataRole.DisplayRole):
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data() == quant)
    return model.index(row, column).data(role)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_recommendation_agrees_with_the_words_beside_it(qtbot, page, theme) -> None:
    picker = page.picker
    model = picker.model
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["Q4_1", "Q4_K_M"]
    # Q4_1 was recommended beside "Q4_K_M is better for its size"
    assert cell(model, "Q4_K_M", 0, QuantRole.Recommended)
    assert picker.reason.text().startswith("★ Recommended — Q4_K_M: the best quality")
    assert cell(model, "Q4_1", QuantPickerModel.ABOUT) == (
        "an older format, not as close to the original as Q4_K_M."
    )
    assert cell(model, "Q4_1", QuantPickerModel.QUALITY) == "fair · rough estimate"
    tip = cell(model, "Q4_1", 0, Qt.ItemDataRole.ToolTipRole)
    assert "Expected quality: noticeably lower, " in tip  # the verdict word's meaning
    assert picker.about.text().startswith("<b>Q4_K_M</b>: usually close to the original")
    screenshot(page, f"my_models_quants_{theme}.png")


def test_bits_per_weight_are_one_figure_each_labelled(qtbot, page) -> None:
    model = page.picker.model
    header = model.headerData(QuantPickerModel.BITS, Qt.Orientation.Horizontal)
    tip = model.headerData(
        QuantPickerModel.BITS, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )
    assert header == "Bits/\nweight" and tip.startswith("Bits per weight of this file")
    shown = cell(model, "Q4_K_M", QuantPickerModel.BITS)
    assert shown == "6.3"  # 105,454,144 bytes x 8 / 134,515,008 parameters
    # the tooltip and the line under the table say both figures, each with its name
    labelled = f"this file: {shown} bits per weight; Q4_K_M usually 4.9"
    assert labelled[0].upper() + labelled[1:] + "." in cell(
        model, "Q4_K_M", 0, Qt.ItemDataRole.ToolTipRole
    )
    assert f"({labelled})" in page.picker.about.text()
    assert "about 4.9 bits" not in page.picker.about.text()  # no unlabelled second figure
    # and no jargon in the first view: the citation is one click away
    assert "PR #6936" not in page.picker.sources.text()
    assert "Llama-3-8B" not in cell(model, "Q4_K_M", QuantPickerModel.QUALITY)
    page.picker.sources.linkActivated.emit("#sources")
    assert page.picker.sources.text().startswith("Quality: “typical for this type” comes from")
    assert "PR #6936" in page.picker.sources.text()
