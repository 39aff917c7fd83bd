"""My Models with real files: header columns, chat, compare, reveal, delete, add folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool

from app.core.common.paths import hf_hub_cache
from app.core.library import catalog
from app.core.library.catalog import HeaderCache
from app.ui.my_models.library_model import DETAIL_COLUMNS, LibraryModel, ModelRole
from app.ui.my_models.page import ModelsPage

WAIT = 10_000


@pytest.fixture(autouse=True)
def pool_drained():
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


class Answers:
    """Stands in for the dialogs: records the questions, gives the answers set."""

    def __init__(self) -> None:
        self.questions: list[str] = []
        self.answer = True
        self.folder = ""
        self.opened: list[str] = []

    def confirm(self, _parent, question: str) -> bool:
        self.questions.append(question)
        return self.answer


@pytest.fixture
def home(tmp_path, starter_home, starter_gguf) -> Path:
    """The starter model, a model of Hearth's own folder and one in LM Studio's folder."""
    (starter_home.models_dir / "made" / "Mine-Q8_0.gguf").parent.mkdir(parents=True)
    (starter_home.models_dir / "made" / "Mine-Q8_0.gguf").write_bytes(os.urandom(3000))
    lms = tmp_path / "home/.lmstudio/models/pub/Smol-GGUF/smol-Q4_1.gguf"
    lms.parent.mkdir(parents=True)
    os.link(starter_gguf, lms)
    return tmp_path / "home"


def scan(paths, home: Path, hidden=(), folders=()) -> list[catalog.LocalModel]:
    return catalog.list_models(
        paths.models_dir,
        hf_hub_cache(),
        folders,
        hidden=hidden,
        home=home,
        environ={},
        header_cache=HeaderCache(paths.cache_dir / "headers.json"),
    )


@pytest.fixture
def page(qtbot, services, starter_home, home):
    answers = Answers()
    model = LibraryModel()
    widget = ModelsPage(
        model,
        measure_store=services.stores.measurements,
        machine_info=services.machine,
        confirm=answers.confirm,
        choose_folder=lambda _p: answers.folder,
        open_url=lambda url: answers.opened.append(url.toLocalFile()),
    )
    qtbot.addWidget(widget)
    model.set_models(scan(starter_home, home))
    widget.answers = answers
    widget.refresh_requested.connect(
        lambda: model.set_models(scan(starter_home, home, widget.hidden, widget.folders))
    )
    return widget


def row_of(page: ModelsPage, source: str) -> catalog.LocalModel:
    return next(m for m in page.library.models() if m.source == source)


def test_columns_show_what_the_headers_say(page, qtmodeltester) -> None:
    qtmodeltester.check(page.library, force_py=True)
    model = page.library
    headers = [model.headerData(c, Qt.Horizontal) for c in range(model.columnCount())]
    assert headers == list(DETAIL_COLUMNS)
    cells = [model.index(0, c).data() for c in range(model.columnCount())]
    assert cells[:6] == ["SmolLM2-135M-Instruct", "Q4_1", "98.4 MB", "llama", "135M", "8,192"]
    assert cells[model.column("Source")] == "Starter model"
    sources = [model.index(r, model.column("Source")).data() for r in range(model.rowCount())]
    assert sorted(sources) == ["Hearth", "LM Studio", "Starter model"]
    assert page.summary.text().startswith("3 models,")


def test_sorting_by_size_is_numeric(page) -> None:
    page.table.sortByColumn(page.library.column("Size"), Qt.DescendingOrder)
    sizes = [page.proxy.index(r, 2).data() for r in range(page.proxy.rowCount())]
    assert sizes == ["98.4 MB", "98.4 MB", "3.0 KB"]


def test_chat_compare_and_reveal(qtbot, page) -> None:
    starter, mine = row_of(page, "starter"), row_of(page, "hearth")
    page.select(str(mine.path))
    with qtbot.waitSignal(page.chat_requested) as chat:
        qtbot.mouseClick(page.buttons["Chat with this model"], Qt.LeftButton)
    assert chat.args == [str(mine.path)]

    qtbot.mouseClick(page.buttons["Compare"], Qt.LeftButton)
    assert "Select two or more models" in page.status.text()
    page.select(str(starter.path), str(mine.path))
    with qtbot.waitSignal(page.compare_requested) as compare:
        qtbot.mouseClick(page.buttons["Compare"], Qt.LeftButton)
    assert sorted(compare.args[0]) == sorted([str(starter.path), str(mine.path)])

    page.select(str(mine.path))
    qtbot.mouseClick(page.buttons["Show in folder"], Qt.LeftButton)
    assert page.answers.opened == [str(mine.path.parent)]


def test_the_line_under_the_table_describes_the_selection_not_the_current_row(qtbot, page) -> None:
    page.resize(1024, 560)
    page.show()
    qtbot.waitExposed(page)
    starter, mine = row_of(page, "starter"), row_of(page, "hearth")

    def click(model: catalog.LocalModel, modifier=Qt.NoModifier) -> None:
        row = next(
            r
            for r in range(page.proxy.rowCount())
            if page.proxy.index(r, 0).data(ModelRole) == model
        )
        rect = page.table.visualRect(page.proxy.index(row, 0))
        qtbot.mouseClick(page.table.viewport(), Qt.LeftButton, modifier, rect.center())

    click(starter)
    assert page.details.text().startswith(starter.path.name)
    click(mine, Qt.ControlModifier)  # both selected, the current row on mine
    assert page.details.text() == f"2 selected: {starter.path.name}, {mine.path.name}" or (
        page.details.text() == f"2 selected: {mine.path.name}, {starter.path.name}"
    )
    click(mine, Qt.ControlModifier)  # mine let go: the current row stays on it
    assert page.table.currentIndex().data(ModelRole) == mine
    assert [m.path for m in page.selected_models()] == [starter.path]
    assert page.details.text().startswith(starter.path.name)  # it said mine's file
    assert mine.path.name not in page.details.text()
    click(mine)  # a plain click: Qt keeps the last modifiers for the next test's selectRow
    assert page.details.text().startswith(mine.path.name)


def test_deleting_a_model_hearth_owns(qtbot, page) -> None:
    mine = row_of(page, "hearth")
    page.select(str(mine.path))
    page.answers.answer = False
    qtbot.mouseClick(page.buttons["Delete..."], Qt.LeftButton)
    assert mine.path.exists() and "will be removed from disk" in page.answers.questions[-1]

    page.answers.answer = True
    with qtbot.waitSignal(page.library.modelReset, timeout=WAIT):
        qtbot.mouseClick(page.buttons["Delete..."], Qt.LeftButton)
    assert not mine.path.exists()
    assert page.status.text() == "Deleted Mine-Q8_0: 3.0 KB freed."
    assert [m.source for m in page.library.models()] == ["starter", "lmstudio"]


def test_another_apps_model_is_only_removed_from_the_list(qtbot, page) -> None:
    lms = row_of(page, "lmstudio")
    page.select(str(lms.path))
    with qtbot.waitSignal(page.hidden_changed, timeout=WAIT) as hidden:
        qtbot.mouseClick(page.buttons["Delete..."], Qt.LeftButton)
    assert "The file is not deleted" in page.answers.questions[-1]
    assert hidden.args == [[str(lms.path)]] and lms.path.exists()
    assert "The file was not deleted" in page.status.text()
    assert "lmstudio" not in [m.source for m in page.library.models()]


def test_another_apps_file_is_deleted_only_when_asked(qtbot, page) -> None:
    lms = row_of(page, "lmstudio")
    page.select(str(lms.path))
    with qtbot.waitSignal(page.library.modelReset, timeout=WAIT):
        page.delete(delete_file=True)
    assert "It belongs to LM Studio" in page.answers.questions[-1]
    assert not lms.path.exists() and "LM Studio will no longer find it" in page.status.text()
    assert page.hidden == []


def test_add_folder(qtbot, page, tmp_path) -> None:
    folder = tmp_path / "extra"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "copy.gguf").symlink_to(row_of(page, "starter").path)
    (folder / "Other-Q2_K.gguf").write_bytes(b"GGUF" + os.urandom(100))
    page.answers.folder = str(folder)
    with qtbot.waitSignal(page.folders_changed) as changed:
        qtbot.mouseClick(page.buttons["Add folder..."], Qt.LeftButton)
    assert changed.args == [[str(folder)]]
    names = [m.name for m in page.library.models() if m.source == "folder"]
    assert names == ["Other-Q2_K"]  # copy.gguf leads to the starter model: listed once


def test_a_model_from_the_hub_shows_its_name_and_repo_not_a_snapshot_path(
    qtbot, services, starter_home, home, starter_gguf, loopback_hub, keeper
) -> None:
    """The Hugging Face cache's path (with its snapshot hash) was shown, names elided in the
    middle (issue 19): the name, its repo, and the path as the tooltip."""
    from huggingface_hub import hf_hub_download

    from tests.support.hub_repos import add_gguf_family
    from tests.support.screenshots import screenshot

    repo = "bartowski/SmolLM2-135M-Instruct-GGUF"
    add_gguf_family(loopback_hub, repo, {"SmolLM2-135M-Instruct-Q4_1.gguf": starter_gguf})
    hf_hub_download(
        repo, "SmolLM2-135M-Instruct-Q4_1.gguf", endpoint=loopback_hub.url, cache_dir=hf_hub_cache()
    )
    model = LibraryModel()
    page = ModelsPage(
        model,
        measure_store=services.stores.measurements,
        machine_info=services.machine,
        confirm=lambda *_: False,
        choose_folder=lambda _p: "",
    )
    qtbot.addWidget(page)
    model.set_models(scan(starter_home, home))
    keeper.apply("light")
    page.resize(1024, 560)
    page.show()
    qtbot.waitExposed(page)
    row = next(r for r in range(model.rowCount()) if model.models()[r].source == "hf-cache")
    cells = {
        model.headerData(c, Qt.Horizontal): model.index(row, c).data()
        for c in range(model.columnCount())
    }
    assert cells["Name"] == "SmolLM2-135M-Instruct" and cells["Quant"] == "Q4_1"
    assert cells["From"] == repo and cells["Source"] == "Hugging Face cache"
    assert not any("snapshots" in str(text) for text in cells.values())
    path = str(model.models()[row].path)
    assert "snapshots" in path and model.index(row, 0).data(Qt.ToolTipRole) == path
    metrics, table = page.table.fontMetrics(), page.table
    assert metrics.horizontalAdvance(cells["Name"]) < table.columnWidth(0)  # whole, not elided
    page.table.selectRow(page.proxy.mapFromSource(model.index(row, 0)).row())
    folder = str(Path(path).parent)  # said once (it was said twice, issue 19)
    assert page.details.text() == f"SmolLM2-135M-Instruct-Q4_1.gguf from {repo}, in {folder}"
    assert page.details.text().count(folder) == 1
    screenshot(page, "my_models_light.png")
    keeper.apply("dark")
    screenshot(page, "my_models_dark.png")
