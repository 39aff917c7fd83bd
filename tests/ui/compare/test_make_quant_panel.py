"""Make a quant from the real F16 ladder file with llama.cpp's real quantizer."""

from __future__ import annotations

from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions
from app.core.library import catalog
from app.ui.compare.make_quant_panel import MakeQuantDialog, MakeQuantPanel
from tests.support.screenshots import screenshot
from tests.ui.compare.conftest import library_of, place

QUANT_MS = 180_000


def open_panel(qtbot, hearth_home):
    lib = library_of(hearth_home.models_dir)
    panel = MakeQuantPanel(lib, hearth_home.models_dir)
    panel.library_model = lib
    qtbot.addWidget(panel)
    panel.show()
    return panel


def planned(qtbot, panel: MakeQuantPanel) -> MakeQuantPanel:
    """Wait for the plan of the source and type chosen: their header is read off the GUI
    thread."""
    qtbot.waitUntil(lambda: not panel.planning)
    return panel


def test_f16_to_q4_0_makes_a_loadable_file_that_joins_the_library(qtbot, hearth_home, quant_ladder):
    (f16,) = place([quant_ladder["F16"]], hearth_home.models_dir)
    panel = open_panel(qtbot, hearth_home)
    panel.select_source(f16)
    assert panel.source_info.text().startswith("F16 · ")
    panel.select_target("Q4_0")
    assert not panel.make_button.isEnabled()  # until the header is read
    planned(qtbot, panel)
    assert "SmolLM2-135M-Instruct-Q4_0.gguf" in panel.plan_info.text()
    assert "about" in panel.plan_info.text() and not panel.warning.isVisible()
    values = []
    panel.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(panel.quant_made, timeout=QUANT_MS) as made:
        panel.make_button.click()
        assert panel.cancel_button.isEnabled() and not panel.make_button.isEnabled()
    out = hearth_home.models_dir / "quants" / "SmolLM2-135M-Instruct-Q4_0.gguf"
    assert made.args == [str(out)]
    assert panel.status.text() == f"Made {out.name}. It is in your models now."
    assert panel.progress.value() == 1000 and any(0 < v < 1000 for v in values)
    panel.resize(640, 380)
    screenshot(panel, "compare_make_quant.png")
    listed = {
        m.path: m.quant
        for m in catalog.list_models(hearth_home.models_dir, hearth_home.cache_dir / "none")
    }
    assert listed[out] == "Q4_0"
    eng = Engine()
    try:
        loaded = eng.load(out, LoadOptions(n_ctx=256))
        assert loaded.path == out
    finally:
        eng.unload()
    # The library refreshed by the signal offers the new file; the same quant is not made twice.
    panel.library.set_models(
        catalog.list_models(hearth_home.models_dir, hearth_home.cache_dir / "none")
    )
    panel.select_source(f16)
    panel.select_target("Q4_0")
    planned(qtbot, panel)
    assert "already exists" in panel.plan_info.text() and not panel.make_button.isEnabled()


def test_cancel_leaves_no_file(qtbot, hearth_home, quant_ladder):
    (f16,) = place([quant_ladder["F16"]], hearth_home.models_dir)
    panel = open_panel(qtbot, hearth_home)
    panel.select_source(f16)
    panel.select_target("Q3_K_M")
    planned(qtbot, panel).make_button.click()
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=QUANT_MS)
    assert panel.status.text() == (
        "Making SmolLM2-135M-Instruct-Q3_K_M.gguf was cancelled. Nothing was kept."
    )
    quants_dir = hearth_home.models_dir / "quants"
    assert not quants_dir.exists() or list(quants_dir.iterdir()) == []
    assert planned(qtbot, panel).make_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_small_quants_are_refused_and_q8_0_warns(qtbot, hearth_home, quant_ladder):
    q4, q8 = place([quant_ladder["Q4_K_M"], quant_ladder["Q8_0"]], hearth_home.models_dir)
    dialog = MakeQuantDialog(library_of(hearth_home.models_dir), hearth_home.models_dir)
    qtbot.addWidget(dialog)
    panel = dialog.panel
    panel.select_source(q4)
    assert "Q4_K_M" in panel.plan_info.text() and "F16, BF16, F32 or Q8_0" in panel.plan_info.text()
    assert panel.target.count() == 0 and not panel.make_button.isEnabled()
    panel.select_source(q8)
    assert panel.target.findText("Q8_0") == -1 and panel.target.findText("Q4_K_M") >= 0
    panel.select_target("Q4_K_M")
    planned(qtbot, panel)
    dialog.show()
    assert panel.warning.isVisible() and "already quantized (Q8_0)" in panel.warning.text()
    assert panel.make_button.isEnabled()
    dialog.reject()


def test_library_model_refresh_keeps_a_source_chosen(qtbot, hearth_home, quant_ladder):
    panel = open_panel(qtbot, hearth_home)
    assert panel.source_info.text() == "No local models yet."
    assert not panel.make_button.isEnabled()
    place([quant_ladder["F16"]], hearth_home.models_dir)
    panel.library.set_models(
        catalog.list_models(hearth_home.models_dir, hearth_home.cache_dir / "none")
    )
    assert panel.source_info.text().startswith("F16")
    assert planned(qtbot, panel).make_button.isEnabled()


def test_closing_the_dialog_while_making_stops_and_keeps_nothing(qtbot, hearth_home, quant_ladder):
    (f16,) = place([quant_ladder["F16"]], hearth_home.models_dir)
    dialog = MakeQuantDialog(library_of(hearth_home.models_dir), hearth_home.models_dir)
    qtbot.addWidget(dialog)
    dialog.show()
    panel = dialog.panel
    panel.select_source(f16)
    panel.select_target("Q5_K_M")
    planned(qtbot, panel).make_button.click()
    assert panel.running
    dialog.reject()  # Close while llama.cpp's quantizer runs
    quants_dir = hearth_home.models_dir / "quants"
    assert not quants_dir.exists() or list(quants_dir.iterdir()) == []


def test_what_cannot_run_is_disabled_and_says_what_to_do_first(qtbot, hearth_home, quant_ladder):
    """The tab showed an empty "Make" box and a Make quant button that looked ready (issue 19)."""
    panel = open_panel(qtbot, hearth_home)  # no models yet
    assert not panel.target.isEnabled() and not panel.make_button.isEnabled()
    assert panel.make_button.toolTip() == "Download a model in F16, BF16 or Q8_0 first."
    panel.close()
    place([quant_ladder["Q4_K_M"]], hearth_home.models_dir)
    panel = open_panel(qtbot, hearth_home)  # a quant already small: nothing to make from it
    assert panel.target.count() == 0 and not panel.target.isEnabled()
    assert not panel.make_button.isEnabled()
    assert panel.make_button.toolTip() == "Choose a source file in F16, BF16, F32 or Q8_0 first."
    screenshot(panel, "make_quant_nothing_to_make.png")
