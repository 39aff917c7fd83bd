"""My Models' "Speed here" column and the comfortable speed setting, with the real starter model
file: the figures are the quant picker's, worked out off the GUI thread once the page shows, and
File > Settings' comfortable speed moves the open picker's Recommended."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QDialogButtonBox

from app.core.config.settings import Settings
from app.core.fit import estimate
from app.core.fit.devices import cpu_device
from app.core.fit.machine_info import MachineInfo
from app.core.fit.shape import shape_from_file
from app.core.fit.speed import SpeedMachine
from app.core.fit.speed_here import SpeedHere
from app.core.hardware.cpu_speed import CpuSpeed
from app.core.library import catalog
from app.core.measure.store import MeasureStore, measurements_db
from app.core.quants.pick import QuantItem, rows
from app.ui.main_window import MainWindow
from app.ui.my_models.library_model import LibraryModel
from app.ui.my_models.page import ModelsPage
from app.ui.quant_picker.model import QuantPickerModel

WAIT = 20_000
GB = 10**9


@pytest.fixture(autouse=True)
def pool_drained():
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


def speeds_here() -> SpeedHere:
    """A CPU probe fixed in the test (37 GB/s, one thread), so no figure rests on this machine."""
    probe = CpuSpeed("test machine", 37e9, 37e9, 92e9, 2)
    return SpeedHere(lambda n: SpeedMachine(cpu_device(probe, n)), 1)


def test_speed_here_column_shows_the_pickers_figure_for_each_file(
    qtbot, starter_home, starter_gguf, tmp_path
) -> None:
    broken = starter_home.models_dir / "made" / "Broken-Q8_0.gguf"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(os.urandom(3000))
    found = catalog.list_models(
        starter_home.models_dir,
        tmp_path / "hf",
        [],
        home=tmp_path / "home",
        environ={},
        header_cache=catalog.HeaderCache(tmp_path / "headers.json"),
    )
    library = LibraryModel()
    library.set_models(found)
    page = ModelsPage(
        library,
        machine=estimate.Machine(ram_bytes=16 * GB),
        measure_store=MeasureStore(measurements_db(starter_home.data_dir)),
        machine_info=MachineInfo(starter_home.models_dir),
    )
    page.picker.speeds = speeds_here()
    qtbot.addWidget(page)
    column = library.column("Speed here")
    assert library.headerData(column, Qt.Horizontal) == "Speed here"
    starter = next(r for r in range(library.rowCount()) if "SmolLM2" in library.index(r, 0).data())
    other = 1 - starter
    assert library.index(starter, column).data() == "…"  # not worked out while hidden
    assert library.index(starter, column).data(Qt.ToolTipRole).startswith("Working out how fast")
    with qtbot.waitSignal(library.dataChanged, timeout=WAIT):
        page.show()
    # the quant picker's own figure for the file, at its default context
    shape = shape_from_file(starter_gguf)
    item = QuantItem(str(found[starter].path), starter_gguf.name, "Q4_1", shape.file_size, shape)
    expected = rows([item], page.picker.machine, 8192, speeds=speeds_here())[0].speed
    assert library.index(starter, column).data() == expected.short
    assert expected.short.startswith("~") and expected.short.endswith(" tok/s")
    tip = library.index(starter, column).data(Qt.ToolTipRole)
    assert "tokens a second writing here" in tip and "(estimated from the file" in tip
    assert library.index(other, column).data() == "—"  # the refused file: no figure
    # sorted by speed: numbers, not text
    page.table.sortByColumn(column, Qt.DescendingOrder)
    assert page.proxy.index(0, column).data() == expected.short


@pytest.fixture
def window(qtbot, hearth_home, quant_ladder, keeper):
    settings = Settings.load(hearth_home.settings_file)
    settings.model_folders = [str(Path(quant_ladder["F16"]).parent)]
    win = MainWindow(hearth_home, settings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitUntil(lambda: bool(win.library.scanned and win.library.models()), timeout=WAIT)
    yield win
    win.shutdown()


def set_comfortable(qtbot, window, picker, tok_s: float) -> None:
    dialog = window.open_settings()
    dialog.speed.setValue(tok_s)
    with qtbot.waitSignal(picker.ready, timeout=WAIT):
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.LeftButton)


def test_the_comfortable_speed_setting_moves_the_open_pickers_recommendation(qtbot, window):
    window.open_page("My Models")
    page = window.models_page
    q4 = next(m for m in page.library.models() if m.quant == "Q4_K_M")
    page.select(str(q4.path))
    with qtbot.waitSignal(page.picker.ready, timeout=WAIT):
        qtbot.mouseClick(page.buttons["Quants"], Qt.LeftButton)
    picker, model = page.picker, page.picker.model
    entries = [model.entry(r) for r in range(model.rowCount())]
    fitting = [e for e in entries if e.placement != "too-large" and e.speed is not None]
    assert len(fitting) == len(entries)  # a 135M model's ladder fits any computer

    set_comfortable(qtbot, window, picker, 1000)  # nothing is that fast: the fastest, said so
    fastest = max(fitting, key=lambda e: (e.speed.gen_tok_s, -e.size_bytes))
    assert model.recommended().key == fastest.key
    assert "none reaches 1,000 tokens a second here: this is the fastest" in picker.reason.text()
    slow = [
        model.index(r, QuantPickerModel.SPEED).data(Qt.ForegroundRole) for r in range(len(entries))
    ]
    assert all(colour is not None for colour in slow)  # every speed under it is marked

    set_comfortable(qtbot, window, picker, 1)  # every quant is comfortable: the best quality
    best = min(fitting, key=lambda e: (e.typical.kld, -e.size_bytes))
    assert model.recommended().key == best.key
    assert "none reaches" not in picker.reason.text()
    assert (
        f"at about {best.speed.short.lstrip('~').removesuffix(' tok/s')} tokens a second here"
        in (picker.reason.text())
    )
