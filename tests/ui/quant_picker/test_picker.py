"""The quant picker on the model page (loopback Hub serving the real quant ladder) and in My
Models (the real ladder files), driven as a user drives it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool

from app.core.fit import estimate
from app.core.fit.devices import cpu_device
from app.core.fit.speed import SpeedMachine
from app.core.fit.speed_here import SpeedHere
from app.core.hardware.cpu_speed import CpuSpeed
from app.core.hub.client import HubClient
from app.core.library import catalog
from app.core.measure.measurement import MeasureSettings, measure
from app.ui.discover.model_page import ModelPage
from app.ui.my_models.library_model import LibraryModel
from app.ui.my_models.page import ModelsPage
from app.ui.quant_picker.model import QuantPickerModel, QuantRole
from app.ui.theme import stylesheet
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.screenshots import screenshot

WAIT = 20_000
MIB = 2**20
LADDER = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"]
STYLE = stylesheet("light")  # as the app looks
REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"


@pytest.fixture(autouse=True)
def pool_drained():
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


def shown(model: QuantPickerModel) -> list[str]:
    return [model.index(r, QuantPickerModel.QUANT).data() for r in range(model.rowCount())]


def recommended(model: QuantPickerModel) -> list[str]:
    return [
        model.index(r, 0).data()
        for r in range(model.rowCount())
        if model.index(r, 0).data(QuantRole.Recommended)
    ]


def choose_context(qtbot, picker, tokens: int) -> None:
    with qtbot.waitSignal(picker.ready, timeout=WAIT):
        picker.context.setCurrentIndex(picker.context.findData(tokens))


# -- the model page ---------------------------------------------------------------------------


@pytest.fixture
def model_page(qtbot, services, loopback_hub, quant_ladder, tmp_path):
    add_gguf_family(
        loopback_hub,
        REPO,
        {gguf_name("SmolLM2-135M-Instruct", q): quant_ladder[q] for q in LADDER},
        gguf={"total": 134515008, "architecture": "llama", "context_length": 8192},
    )
    client = HubClient(loopback_hub.url, token=False, retries=0)
    page = ModelPage(
        client=client,
        machine=estimate.Machine(ram_bytes=600 * MIB),
        machine_info=services.machine,
        models_dir=tmp_path / "models",
    )
    qtbot.addWidget(page)
    page.picker.speeds = speeds_here()
    page.setStyleSheet(STYLE)
    page.resize(1280, 860)
    page.show()
    with qtbot.waitSignal(page.picker.ready, timeout=WAIT):
        page.show_repo(REPO)
    return page


def speeds_here() -> SpeedHere:
    """Speed figures from a CPU probe as this 2-core test machine measures (37 GB/s, one
    llama.cpp thread): fixed, so the figures shown do not depend on the machine's load."""
    probe = CpuSpeed("test machine", 37e9, 37e9, 92e9, 2)
    return SpeedHere(lambda n: SpeedMachine(cpu_device(probe, n)), 1)


def test_model_page_lists_quants_by_size_and_recommends_one(qtbot, model_page, qtmodeltester):
    picker = model_page.picker
    model = picker.model
    qtmodeltester.check(model, force_py=True)
    assert shown(model) == LADDER
    sizes = [model.index(r, 0).data(QuantRole.SizeBytes) for r in range(model.rowCount())]
    assert sizes == sorted(sizes)
    assert model.index(6, QuantPickerModel.SIZE).data(QuantRole.SizeFraction) == 1.0
    # 8,192 tokens (the model's own context) on 600 MiB of RAM: F16 leaves no room for it
    assert picker.n_ctx() == 8192 and recommended(model) == ["Q8_0"]
    assert picker.reason.text().startswith(
        "★ Recommended — Q8_0: the best quality that fits "
        "in your RAM with room for 8,192 tokens of context"
    )
    assert model.index(6, QuantPickerModel.FIT).data() == estimate.VERDICT_TOO_LARGE
    assert model.index(5, QuantPickerModel.FIT).data() == "CPU only"  # the reason under it
    assert f"Fit here: {estimate.VERDICT_CPU}." in model.index(5, 0).data(Qt.ToolTipRole)
    # the files table below selects the same file, ready for Download, with the same fits
    selected = model_page.files_table.selectionModel().selectedRows()
    assert [model_page.files.entry(i.row()).quant for i in selected] == ["Q8_0"]
    assert model_page.files.index(6, 3).data() == estimate.VERDICT_TOO_LARGE

    q4 = LADDER.index("Q4_K_M")
    assert model.index(q4, QuantPickerModel.ABOUT).data() == (
        "usually close to the original; the usual choice."
    )
    assert (
        model.index(q4, 0)
        .data(Qt.ToolTipRole)
        .startswith(
            "Q4_K_M: usually close to the original; the usual choice.\nThis file: 6.3 "
            "bits per weight; Q4_K_M usually 4.9."
        )
    )
    # the cell's verdict in a word, the words in full in the row's tooltip
    assert model.index(q4, QuantPickerModel.QUALITY).data() == "good · typical for this type"
    assert "Expected quality: close to the original, " in model.index(q4, 0).data(Qt.ToolTipRole)
    assert model.index(q4, 0).data(QuantRole.Kld) == 0.03127
    assert "ggml-org/llama.cpp PR #6936" in model.index(q4, 0).data(Qt.ToolTipRole)
    # where the figures come from: one click away, not five lines under the table
    assert picker.sources.isVisible() and "PR #6936" in picker.sources.toolTip()
    picker.sources.linkActivated.emit("#sources")
    assert "PR #6936" in picker.sources.text()
    # under the table: what the recommended quant means, then the one the user clicks
    assert picker.about.text() == (
        "<b>Q8_0</b>: practically indistinguishable from the original. "
        f"(this file: 8.6 bits per weight; Q8_0 usually 8.5) · fit here: {estimate.VERDICT_CPU}"
    )
    qtbot.mouseClick(
        picker.table.viewport(),
        Qt.LeftButton,
        pos=picker.table.visualRect(model.index(q4, 0)).center(),
    )
    assert picker.about.text() == (
        "<b>Q4_K_M</b>: usually close to the original; the usual choice. "
        f"(this file: 6.3 bits per weight; Q4_K_M usually 4.9) · fit here: {estimate.VERDICT_CPU}"
    )
    assert model.index(q4, QuantPickerModel.BITS).data() == f"{105454144 * 8 / 134515008:.1f}"


def test_speed_here_is_a_column_and_the_recommendation_names_it(qtbot, model_page) -> None:
    model = model_page.picker.model
    assert model.headerData(QuantPickerModel.SPEED, Qt.Horizontal) == "Speed\nhere"
    speeds = [model.index(r, QuantPickerModel.SPEED).data(QuantRole.Speed) for r in range(6)]
    told = dict(zip(LADDER, speeds))
    # a figure follows the file's bytes and its type's products on a CPU, not its size alone:
    # Q4_K's (repacked by ggml) cost about half of Q5_K's or Q8_0's per weight
    assert told["Q4_K_M"] > max(told["Q5_K_M"], told["Q8_0"]) and told["Q2_K"] > told["Q8_0"]
    texts = [model.index(r, QuantPickerModel.SPEED).data() for r in range(7)]
    assert all(t.startswith("~") and t.endswith(" tok/s") for t in texts[:6])
    assert texts[6] == "—"  # F16 does not fit: no speed to tell
    q8 = LADDER.index("Q8_0")
    assert model.index(q8, 0).data(QuantRole.SpeedBasis) == "estimated"
    tip = model.index(q8, 0).data(Qt.ToolTipRole)
    assert "Speed here: about" in tip and "this machine's memory speed" in tip
    assert f"at about {texts[q8][1:].removesuffix(' tok/s')} tokens a second here" in (
        model_page.picker.reason.text()
    )


def test_a_missing_speed_says_why(qtbot, model_page) -> None:
    """A "—" alone said nothing (issue 19): its tooltip gives the reason."""
    model = model_page.picker.model
    f16 = LADDER.index("F16")
    assert model.index(f16, QuantPickerModel.SPEED).data() == "—"
    assert model.index(f16, QuantPickerModel.SPEED).data(Qt.ToolTipRole) == (
        "No speed figure: it does not fit this machine at this context."
    )
    assert "No speed figure here: it does not fit" in model.index(f16, 0).data(Qt.ToolTipRole)
    # a machine described by hand has no measured memory speed: every row says so
    model_page.picker.speeds = None
    with qtbot.waitSignal(model_page.picker.ready, timeout=WAIT):
        model_page.picker.set_machine(estimate.Machine(ram_bytes=600 * MIB))
    q4 = LADDER.index("Q4_K_M")
    assert model.index(q4, QuantPickerModel.SPEED).data(Qt.ToolTipRole) == (
        "No speed figure: this machine's memory speed has not been measured."
    )


def test_the_model_page_in_the_window_shows_speeds_here(
    qtbot, services, loopback_hub, quant_ladder
):
    """In the studio the page is given no machine: it took the one it probed for a machine
    described by hand, and every speed was "—" (issue 19)."""
    add_gguf_family(
        loopback_hub,
        REPO,
        {gguf_name("SmolLM2-135M-Instruct", q): quant_ladder[q] for q in ("Q2_K", "Q8_0")},
        gguf={"total": 134515008, "architecture": "llama", "context_length": 8192},
    )
    page = ModelPage(
        client=HubClient(loopback_hub.url, token=False, retries=0),
        machine_info=services.machine,
    )
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.picker.ready, timeout=WAIT):
        page.show_repo(REPO)
    model = page.picker.model
    texts = [model.index(r, QuantPickerModel.SPEED).data() for r in range(model.rowCount())]
    assert len(texts) == 2 and all(t.endswith(" tok/s") for t in texts), texts


@pytest.mark.parametrize("width", [800, 1176])  # the page in 1024- and 1366-px windows
def test_the_columns_fit_the_table_without_a_horizontal_scrollbar(
    qtbot, model_page, keeper, width
) -> None:
    """Expected quality was cut behind a horizontal scrollbar even at 1366 px (issue 19)."""
    model_page.resize(width, 700)
    picker, model = model_page.picker, model_page.picker.model
    table, header = picker.table, picker.table.horizontalHeader()
    qtbot.waitUntil(lambda: header.length() <= table.viewport().width())
    assert not table.horizontalScrollBar().isVisible()
    shown = {c for c in range(model.columnCount()) if not table.isColumnHidden(c)}
    needed = {QuantPickerModel.QUANT, QuantPickerModel.SIZE, QuantPickerModel.FIT}
    needed |= {QuantPickerModel.SPEED, QuantPickerModel.QUALITY, QuantPickerModel.ACTION}
    assert needed <= shown
    for column in shown:  # each one inside the table, wide enough to say something
        assert table.columnViewportPosition(column) + table.columnWidth(column) <= (
            table.viewport().width()
        )
        assert table.columnWidth(column) >= 50, column
    # each row's key facts read whole: its fit ("CPU only"), its quality verdict, the header
    # ("CPU only —…", "indisti…" and "Expectec" in a 1024-px window, issue 19)
    for row in range(model.rowCount()):
        fit = model.index(row, QuantPickerModel.FIT).data()
        assert painted(table, fit, QuantPickerModel.FIT, FIT_MARGINS) == fit
        verdict = model.index(row, QuantPickerModel.QUALITY).data(QuantRole.QualityShort)
        assert painted(table, verdict, QuantPickerModel.QUALITY, BAR_MARGINS) == verdict
    assert {model.index(r, QuantPickerModel.FIT).data() for r in range(7)} == {
        "CPU only",
        "Too large",
    }
    assert header.sectionSizeHint(QuantPickerModel.QUALITY) <= table.columnWidth(
        QuantPickerModel.QUALITY
    )
    # what a narrowed cell cuts short, the row's tooltip says whole
    q3 = LADDER.index("Q3_K_M")
    tip = model.index(q3, QuantPickerModel.QUALITY).data(Qt.ToolTipRole)
    assert model.index(q3, QuantPickerModel.QUALITY).data(QuantRole.QualityWords) in tip
    assert model.index(q3, QuantPickerModel.FIT).data() in tip
    assert model.index(q3, QuantPickerModel.ABOUT).data() in tip
    if QuantPickerModel.ABOUT not in shown:  # hidden for room: the line under the table says it
        table.selectRow(q3)
        assert model.index(q3, QuantPickerModel.ABOUT).data() in picker.about.text()
    screenshot(model_page, f"quant_picker_{width}.png")


FIT_MARGINS, BAR_MARGINS = 20, 16  # the delegate's: the fit badge's and the bar's text


def painted(table, text: str, column: int, margins: int) -> str:
    """``text`` as the delegate paints it in ``column``'s width (elided when it is short)."""
    room = table.columnWidth(column) - margins
    return table.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room)


def test_recommended_moves_when_the_context_grows_or_memory_shrinks(qtbot, model_page):
    picker = model_page.picker
    choose_context(qtbot, picker, 2048)
    assert recommended(picker.model) == ["F16"]
    assert model_page.files.index(6, 3).data() == estimate.VERDICT_CPU  # the files table follows
    assert all(
        picker.model.index(r, QuantPickerModel.FIT).data(QuantRole.Fit) == estimate.VERDICT_CPU
        for r in range(7)
    )
    choose_context(qtbot, picker, 8192)
    assert recommended(picker.model) == ["Q8_0"]
    with qtbot.waitSignal(picker.ready, timeout=WAIT):
        picker.set_machine(estimate.Machine(ram_bytes=560 * MIB))
    assert recommended(picker.model) == ["Q5_K_M"]
    with qtbot.waitSignal(picker.ready, timeout=WAIT):
        picker.set_machine(estimate.Machine(ram_bytes=300 * MIB))
    assert recommended(picker.model) == []
    assert picker.reason.text().startswith("None of these fits this machine at 8,192 tokens")
    # on a GPU (its free memory as NVML would report it: no GPU here), full offload wins
    with qtbot.waitSignal(picker.ready, timeout=WAIT):
        picker.set_machine(
            estimate.Machine(ram_bytes=8 * 2**30, gpu_bytes=(900 * MIB,), backend="CUDA")
        )
    assert "runs fully on your GPU" in picker.reason.text()


def test_a_repo_whose_headers_cannot_be_read_is_judged_by_file_size(
    qtbot, services, loopback_hub, tmp_path
) -> None:
    names = {q: gguf_name("Blob-8B", q) for q in ("Q4_K_M", "IQ3_M", "Q8_0")}
    sizes = {"Q4_K_M": 9_000, "IQ3_M": 7_000, "Q8_0": 15_000}
    add_gguf_family(
        loopback_hub, "org/Blob-8B-GGUF", {names[q]: os.urandom(sizes[q]) for q in names}
    )
    page = ModelPage(
        client=HubClient(loopback_hub.url, token=False, retries=0),
        machine=estimate.Machine(ram_bytes=2**30),
        machine_info=services.machine,
        models_dir=tmp_path / "models",
    )
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.picker.ready, timeout=WAIT):
        page.show_repo("org/Blob-8B-GGUF")
    model = page.picker.model
    assert shown(model) == ["IQ3_M", "Q4_K_M", "Q8_0"]
    assert recommended(model) == ["Q8_0"]
    iq3 = model.index(0, QuantPickerModel.QUALITY)
    assert iq3.data(QuantRole.QualitySource) == "rough estimate"
    assert model.index(0, QuantPickerModel.ABOUT).data() == (
        "a newer 3-bit format, better than Q3_K_M for its size."
    )


def test_model_page_screenshot(qtbot, model_page) -> None:
    choose_context(qtbot, model_page.picker, 4096)
    screenshot(model_page, "quant_picker.png")


# -- My Models --------------------------------------------------------------------------------


@pytest.fixture
def models_page(qtbot, services, quant_ladder, starter_home, tmp_path):
    folder = Path(quant_ladder["F16"]).parent
    found = catalog.list_models(
        starter_home.models_dir,
        tmp_path / "hf",
        [str(folder)],
        home=tmp_path / "home",
        environ={},
        header_cache=catalog.HeaderCache(tmp_path / "headers.json"),
    )
    store = services.stores.measurements
    model = LibraryModel()
    page = ModelsPage(
        model,
        machine=estimate.Machine(ram_bytes=600 * MIB),
        measure_store=store,
        machine_info=services.machine,
    )
    page.store = store
    page.picker.speeds = speeds_here()
    qtbot.addWidget(page)
    page.setStyleSheet(STYLE)
    page.resize(1280, 900)
    page.show()
    model.set_models(found)
    return page


def open_quants(qtbot, page: ModelsPage, quant: str) -> None:
    target = next(m for m in page.library.models() if m.quant == quant)
    page.select(str(target.path))
    with qtbot.waitSignal(page.picker.ready, timeout=WAIT):
        if page.buttons["Quants"].isChecked():
            page.show_quants()
        else:
            qtbot.mouseClick(page.buttons["Quants"], Qt.LeftButton)


def test_my_models_shows_the_local_family(qtbot, models_page, qtmodeltester) -> None:
    assert not models_page.picker.isVisible()
    open_quants(qtbot, models_page, "Q4_K_M")
    picker = models_page.picker
    assert picker.isVisible()
    qtmodeltester.check(picker.model, force_py=True)
    # the starter model (Q4_1, another file of the same model) joins the ladder
    assert shown(picker.model) == [
        "Q2_K",
        "Q3_K_M",
        "Q4_1",
        "Q4_K_M",
        "Q5_K_M",
        "Q6_K",
        "Q8_0",
        "F16",
    ]
    assert recommended(picker.model) == ["Q8_0"]
    q4_1 = picker.model.index(2, QuantPickerModel.QUALITY)
    assert q4_1.data(QuantRole.QualitySource) == "rough estimate"
    assert "No published KL divergence for Q4_1" in q4_1.data(QuantRole.QualityNote)


def test_measured_quality_replaces_typical_once_stored(qtbot, models_page, quant_ladder):
    open_quants(qtbot, models_page, "F16")
    model = models_page.picker.model
    q2 = shown(model).index("Q2_K")
    assert model.index(q2, 0).data(QuantRole.QualitySource) == "typical for this type"
    settings = MeasureSettings(tokens=128, n_batch=128, gen_tokens=2, gen_prompt=8, threads=1)
    measure([quant_ladder["F16"], quant_ladder["Q2_K"]], store=models_page.store, settings=settings)
    models_page.hide()  # to Compare and back: the picker reads the measurements again
    with qtbot.waitSignal(models_page.picker.ready, timeout=WAIT):
        models_page.show()
    q2 = shown(model).index("Q2_K")
    assert model.index(q2, 0).data(QuantRole.QualitySource) == "measured by you"
    assert model.index(q2, QuantPickerModel.QUALITY).data().endswith("· measured by you")
    assert model.index(q2, 0).data(QuantRole.Kld) != 0.44513
    assert "Measured by you against SmolLM2-135M-Instruct-F16.gguf" in model.index(q2, 0).data(
        Qt.ToolTipRole
    )
    q4 = shown(model).index("Q4_K_M")
    assert model.index(q4, 0).data(QuantRole.QualitySource) == "typical for this type"
    library = models_page.library  # the list's own speeds worked out, as a user finds them
    speed = library.index(0, library.column("Speed here"))
    qtbot.waitUntil(lambda: speed.data() != "…", timeout=WAIT)
    screenshot(models_page, "quant_picker_local.png")
