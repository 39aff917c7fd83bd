from pathlib import Path

from app.core.common.units import format_size
from app.core.library.catalog import LocalModel
from app.ui.my_models.library_model import LibraryModel, ModelRole


def _model(name, size, source="hearth"):
    return LocalModel(
        name=name, path=Path(f"/m/{name}.gguf"), quant="Q4_K_M", size_bytes=size, source=source
    )


def test_library_model_passes_the_model_tester(qtmodeltester):
    model = LibraryModel()
    model.set_models([_model("a", 10), _model("b", 2_500_000_000, "starter")])
    qtmodeltester.check(model)


def test_rows_show_what_a_user_reads(qtmodeltester):
    model = LibraryModel()
    model.set_models([_model("Llama-Q4_K_M", 4_920_000_000, "hf-cache")])
    cells = [model.index(0, c).data() for c in range(model.columnCount())]
    assert cells == ["Llama", "Q4_K_M", "4.9 GB", "Hugging Face cache", "/m"]
    assert model.index(0, 0).data(ModelRole).name == "Llama-Q4_K_M"
    assert format_size(512) == "512 B"
