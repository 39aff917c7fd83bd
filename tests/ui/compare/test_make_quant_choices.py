"""Make a quant opens on a file that can be quantized, keeps the user's source when the library
is scanned again (as it is after "Made X.gguf"), and shows no red error for either (issue 19).
Real ladder files and llama.cpp's real quantizer."""

from __future__ import annotations

from app.core.library import catalog
from app.ui.compare.make_quant_panel import MakeQuantPanel
from app.ui.my_models.library_model import ModelRole
from tests.ui.compare.conftest import library_of, place
from tests.ui.compare.test_make_quant_panel import QUANT_MS, planned


def listed(models_dir):
    """The library's models with the full-precision file last (by name it comes first)."""
    models = catalog.list_models(models_dir, models_dir / "no-hf-cache")
    return sorted(models, key=lambda m: m.quant == "F16")


def open_panel(qtbot, models_dir):
    library = library_of(models_dir)
    library.set_models(listed(models_dir))
    panel = MakeQuantPanel(library, models_dir)
    panel.library_model = library  # kept alive with the panel
    qtbot.addWidget(panel)
    panel.show()
    return panel


def rescan(panel, models_dir) -> None:
    """What the window does on quant_made or Refresh: the library listed again."""
    panel.library_model.set_models(listed(models_dir))


def shown_source(panel) -> str:
    return panel.source.currentData(ModelRole).quant


def looks_red(panel) -> bool:
    return any(label.objectName() == "error" for label in (panel.plan_info, panel.status))


def test_opens_on_a_source_that_can_be_quantized(qtbot, hearth_home, quant_ladder):
    place(
        [quant_ladder["Q4_K_M"], quant_ladder["F16"], quant_ladder["Q8_0"]], hearth_home.models_dir
    )
    panel = open_panel(qtbot, hearth_home.models_dir)
    assert [m.quant for m in panel.library_model.models()] == ["Q4_K_M", "Q8_0", "F16"]
    assert shown_source(panel) == "F16"  # full precision first
    planned(qtbot, panel)
    assert panel.plan_info.text().startswith("Makes ") and not looks_red(panel)
    assert panel.make_button.isEnabled()


def test_only_small_quants_show_guidance_not_an_error(qtbot, hearth_home, quant_ladder):
    place([quant_ladder["Q4_K_M"]], hearth_home.models_dir)
    panel = open_panel(qtbot, hearth_home.models_dir)
    planned(qtbot, panel)
    assert "download the F16 or Q8_0 file" in panel.plan_info.text()
    assert not looks_red(panel) and not panel.make_button.isEnabled()


def test_the_choice_survives_a_rescan_and_a_made_quant(qtbot, hearth_home, quant_ladder):
    models_dir = hearth_home.models_dir
    f16, q8 = place([quant_ladder["F16"], quant_ladder["Q8_0"]], models_dir)
    panel = open_panel(qtbot, models_dir)
    panel.quant_made.connect(lambda _path: rescan(panel, models_dir))  # as the window does
    row = next(r for r, m in enumerate(panel.library_model.models()) if m.path == q8)
    panel.source.setCurrentIndex(row)
    panel.source.activated.emit(row)  # the user picks the Q8_0 file
    rescan(panel, models_dir)
    assert shown_source(panel) == "Q8_0"

    panel.select_source(f16)
    panel.select_target("Q4_0")
    with qtbot.waitSignal(panel.quant_made, timeout=QUANT_MS):
        planned(qtbot, panel).make_button.click()
    assert panel.status.text() == "Made SmolLM2-135M-Instruct-Q4_0.gguf. It is in your models now."
    assert shown_source(panel) == "F16"  # the rescan kept it
    assert panel.source.currentData(ModelRole).path == f16
    planned(qtbot, panel)
    assert panel.target.currentText() not in ("", "Q4_0")  # the next one not made yet
    assert panel.plan_info.text().startswith("Makes ") and not looks_red(panel)
    assert panel.make_button.isEnabled()
