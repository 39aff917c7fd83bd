"""The Chat page's model picker shows each local model as name · quant, tells two alike files
apart by where they come from, and gives the file's path as the tooltip (issue 19)."""

from PySide6.QtCore import Qt

from app.core.inference.remote import ConnectionStore
from app.core.library.catalog import LocalModel
from app.ui.chat.model_picker import ModelPicker
from app.ui.my_models.library_model import LibraryModel

REPO = "bartowski/SmolLM2-135M-Instruct-GGUF"


def test_labels_keep_the_quant_and_tell_two_files_apart(
    qtbot, starter_home, starter_gguf, tmp_path
):
    snapshot = tmp_path / "hf/hub/models--bartowski--SmolLM2-135M-Instruct-GGUF/snapshots/0a1b2c"
    cached = snapshot / "SmolLM2-135M-Instruct-Q4_1.gguf"
    starter = starter_home.models_dir / starter_gguf.name
    library = LibraryModel()
    library.set_models(
        [
            LocalModel(starter_gguf.stem, starter, "Q4_1", 1, "starter"),
            LocalModel(f"{REPO}/{cached.name}", cached, "Q4_1", 1, "hf-cache", repo_id=REPO),
        ]
    )
    picker = ModelPicker(library, ConnectionStore(tmp_path / "connections.json"))
    qtbot.addWidget(picker)
    picker.resize(picker.sizeHint())
    picker.show()
    texts = [picker.itemText(r) for r in range(2)]
    assert texts == [
        "SmolLM2-135M-Instruct · Q4_1 · starter model",
        f"SmolLM2-135M-Instruct · Q4_1 · {REPO}",
    ]
    assert [picker.itemData(r, Qt.ToolTipRole) for r in range(2)] == [str(starter), str(cached)]
    # what the closed box shows, in its width: the name and the quant, not cut off
    shown = picker.fontMetrics().elidedText(texts[1], Qt.ElideRight, picker.width() - 40)
    assert shown.startswith("SmolLM2-135M-Instruct · Q4_1")


def test_the_saved_connections_are_read_off_the_window(qtbot, tmp_path):
    from app.core.inference.remote import Connection
    from tests.support.llama_server import free_port

    store = ConnectionStore(tmp_path / "connections.json")
    store.save(Connection("Nobody", f"http://127.0.0.1:{free_port()}/v1"))
    picker = ModelPicker(LibraryModel(), store, probe_timeout=5)
    qtbot.addWidget(picker)
    picker.refresh_remote()
    assert picker.listing == 1 and picker.findText("Nobody") < 0  # the file is read on the pool
    qtbot.waitUntil(
        lambda: picker.listing == 0 and picker.findText("Nobody: not available") >= 0,
        timeout=30_000,
    )
    store.path.write_text("{damaged")
    with qtbot.waitSignal(picker.remote_failed, timeout=30_000) as failed:
        picker.refresh_remote()
    assert "Your saved connections could not be used" in failed.args[0]
    assert picker.listing == 0 and picker.findText("Nobody: not available") < 0
