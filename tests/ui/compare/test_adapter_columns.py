"""A model against itself with a LoRA adapter, in Side by side and the blind arena: the starter
model in both columns, one with an adapter made for it (tests/support/lora.py: random low-rank
weights, strong enough to change a greedy answer). Real llama.cpp in each column's own host.

The adapter's answer is random-weight words: only that it differs from the model's own is
checked, never what it says.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.core.library import catalog
from tests.support.lora import make_lora
from tests.support.screenshots import screenshot
from tests.ui.compare.conftest import ANSWER_MS, place
from tests.ui.compare.test_arena_view import open_arena, rows
from tests.ui.compare.test_side_by_side_tab import open_tab

PROMPT = "Name the capital city of France."


@pytest.fixture
def starter_alone(hearth_home, starter_gguf):
    """The library holds one model: the starter."""
    return place([starter_gguf], hearth_home.models_dir)[0]


def send(qtbot, board) -> None:
    board.prompt.setPlainText(PROMPT)
    with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
        qtbot.mouseClick(board.send_button, Qt.MouseButton.LeftButton)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_same_model_with_an_adapter_answers_otherwise(
    qtbot, services, keeper, hearth_home, starter_alone, starter_gguf, tmp_path, theme
):
    keeper.apply(theme)
    adapter = make_lora(starter_gguf, starter_alone.parent / "style-lora.gguf")
    tab = open_tab(qtbot, services)
    tab.resize(1024, 640)
    board = tab.board
    # The library's scan with its adapters, as the studio's (the adapter is no model to pick).
    tab.library_model.set_models(
        catalog.list_models(hearth_home.models_dir, tmp_path / "no-hf-cache", adapters=True)
    )
    try:
        base = board.pickers[0].current_choice()
        assert base is not None and board.pickers[1].current_choice() == base  # one model
        board.prompt.setPlainText(PROMPT)
        board.send()  # the same model twice, no adapter: nothing to compare
        assert "LoRA adapter" in board.message.text() and board.columns == []
        assert not board.adapters[1].strength.isVisible()
        chooser = board.adapters[1].button  # Chat's chooser: the library's adapters, a file
        chooser.fill()
        listed = {a.data(): a for a in chooser.menu().actions()}
        assert str(starter_alone) not in listed
        listed[str(adapter)].trigger()
        assert chooser.text() == "style-lora.gguf" and board.adapters[1].strength.isVisible()
        assert board.adapters[1].strength.value() == 1.0
        send(qtbot, board)
        assert not board.message.isVisible()
        assert [c.title.text() for c in board.columns] == [
            base.label,
            f"{base.label} + style-lora (1.00)",
        ]
        own, adapted = (c.answer_text() for c in board.columns)
        assert own.strip() and adapted.strip()
        assert own != adapted  # greedy both: the adapter alone makes the difference
        assert [c.status.text() for c in board.columns] == ["", ""]
        screenshot(tab, f"compare_adapter_{theme}.png")
    finally:
        tab.shutdown()


def test_an_adapter_made_for_another_model_fails_its_column_in_one_sentence(
    qtbot, services, starter_alone, starter_gguf, tmp_path
):
    wrong = make_lora(starter_gguf, tmp_path / "wrong.gguf", width=640)
    tab = open_tab(qtbot, services)
    board = tab.board
    try:
        base = board.pickers[0].current_choice()
        board.select([base, base.with_adapter(str(wrong), 0.5)])
        assert board.adapters[1].path() == str(wrong)
        assert board.adapters[1].strength.value() == 0.5
        send(qtbot, board)
        assert board.columns[0].answer_text().strip()
        assert (
            board.columns[1]
            .status.text()
            .startswith(
                f"The adapter wrong.gguf does not fit {starter_alone.name}: it was made for another"
            )
        )
    finally:
        tab.shutdown()


def test_the_arena_names_the_adapter_when_it_reveals(
    qtbot, services, starter_alone, starter_gguf, tmp_path
):
    adapter = make_lora(starter_gguf, tmp_path / "style-lora.gguf")
    view = open_arena(qtbot, services)
    board = view.board
    try:
        base = board.pickers[0].current_choice()
        board.select([base.with_adapter(str(adapter), 1.5), base])
        send(qtbot, board)
        assert [c.title.text() for c in board.columns] == ["Answer A", "Answer B"]  # blind
        with_adapter = next(i for i, c in enumerate(board.column_choices) if c.lora_path)
        with qtbot.waitSignal(view.standings_shown):
            view.vote(with_adapter)
        assert view.result.text().endswith(": Q4_1 + style-lora (1.50).")
        assert board.columns[with_adapter].title.text().endswith(": Q4_1 + style-lora (1.50)")
        assert board.columns[1 - with_adapter].title.text().endswith(": Q4_1")
        assert [r[0] for r in rows(view)] == ["Q4_1 + style-lora (1.50)", "Q4_1"]
    finally:
        view.shutdown()
