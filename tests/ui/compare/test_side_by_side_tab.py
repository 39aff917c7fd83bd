"""Side by side with real llama.cpp on two real quants of SmolLM2-135M."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.core.fit.estimate import Machine
from app.ui.compare.side_by_side_tab import SideBySideTab
from tests.support.screenshots import screenshot
from tests.ui.compare.conftest import ANSWER_MS, SAMPLING, library_of


def open_tab(qtbot, services, machine=None):
    lib = library_of(services.paths.models_dir)
    tab = SideBySideTab(
        lib,
        machine=machine or services.machine.machine,
        connections=services.connections,
        sessions=services.new_session,
        sampling=SAMPLING,
    )
    tab.library_model = lib  # keep it alive with the tab
    qtbot.addWidget(tab)
    tab.resize(1100, 640)
    tab.show()
    return tab


def test_two_quants_answer_at_once_with_their_stats(qtbot, services, hearth_home, two_quants):
    tab = open_tab(qtbot, services)
    board = tab.board
    try:
        board.select(two_quants)
        board.prompt.setPlainText("Name the capital city of France.")
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            qtbot.mouseClick(board.send_button, Qt.LeftButton)
            assert board.stop_button.isEnabled() and not board.send_button.isEnabled()
        assert "at once" in board.info.text()
        assert [c.title.text() for c in board.columns] == [
            "SmolLM2-135M-Instruct · Q8_0",
            "SmolLM2-135M-Instruct · Q4_K_M",
        ]
        for column in board.columns:
            assert column.answer_text().strip()
            shown = column.view.toPlainText()
            assert column.answer_text().split()[0] in shown
            stats = column.stats.text()
            assert "tok/s" in stats and "first token" in stats and "tokens" in stats
        assert board.send_button.isEnabled() and not board.stop_button.isEnabled()
        # At once they share the cores rather than each taking all of them.
        from app.core.inference.engine import Engine

        share = max(1, Engine.default_threads() // 2)
        assert [lane.session.model.n_threads for lane in board.runner._lanes.values()] == [
            share,
            share,
        ]
        # Sending again reuses the loaded models.
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.send()
        assert board.info.text() == "The models are loaded: they answer at once."
        screenshot(tab, "compare_side_by_side.png")
    finally:
        tab.shutdown()


def test_short_memory_runs_them_one_after_another_and_stop_stops_all(
    qtbot, services, hearth_home, two_quants
):
    # A machine with 300 MB free: each 135M quant fits alone, not both together.
    tab = open_tab(qtbot, services, machine=lambda: Machine(ram_bytes=300_000_000))
    board = tab.board
    try:
        board.select(two_quants)
        board.prompt.setPlainText("Write a long story about a dragon.")
        board.sampling = SAMPLING.__class__(temperature=0.0, seed=1, max_tokens=400)
        first_token = []
        board.runner.started.connect(first_token.append)
        board.send()
        qtbot.waitUntil(lambda: bool(first_token), timeout=ANSWER_MS)
        assert "one after another" in board.info.text()
        assert first_token == [0]
        assert "turn" in board.columns[1].status.text()
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.stop()
        first, second = board.columns
        assert "stopped" in first.stats.text()
        assert second.status.text() == "Stopped before its turn."
        assert second.answer_text() == ""
        assert board.send_button.isEnabled()
    finally:
        tab.shutdown()


def test_bad_choices_get_a_clear_message(qtbot, services, hearth_home, two_quants):
    tab = open_tab(qtbot, services)
    board = tab.board
    board.select([two_quants[0], two_quants[0]])
    board.prompt.setPlainText("Hi")
    board.send()
    assert board.message.text() == (
        "Pick a different model in each box, or give one of them a LoRA adapter."
    )
    board.select(two_quants)
    board.prompt.setPlainText("  ")
    board.send()
    assert "Type a prompt" in board.message.text()
    assert board.columns == [] and board.send_button.isEnabled()
    board.add_picker()
    board.add_picker()
    board.add_picker()
    assert len(board.pickers) == 4 and not board.add_button.isEnabled()
    tab.shutdown()


def test_one_after_another_frees_each_model_before_the_next(
    qtbot, services, hearth_home, two_quants
):
    tab = open_tab(qtbot, services, machine=lambda: Machine(ram_bytes=300_000_000))
    board = tab.board
    loaded_when_answering = []

    def on_started(index):
        loaded_when_answering.append((index, {p.name for p in board.runner.loaded_paths()}))

    try:
        board.select(two_quants)
        board.prompt.setPlainText("Name the capital city of France.")
        board.runner.started.connect(on_started)
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.send()
        assert loaded_when_answering == [(0, {two_quants[0].name}), (1, {two_quants[1].name})]
        for column in board.columns:
            assert column.answer_text().strip() and "tok/s" in column.stats.text()
        assert board.runner.loaded_paths() == set()
        qtbot.waitUntil(lambda: not board.runner.unloading, timeout=ANSWER_MS)
        assert board.send_button.isEnabled()
    finally:
        tab.shutdown()


def test_stop_stops_every_model_answering_at_once(qtbot, services, hearth_home, two_quants):
    tab = open_tab(qtbot, services)
    board = tab.board
    answering = set()
    board.runner.started.connect(answering.add)
    try:
        board.select(two_quants)
        board.prompt.setPlainText("Write a long story about a dragon.")
        board.sampling = SAMPLING.__class__(temperature=0.0, seed=1, max_tokens=600)
        board.send()
        qtbot.waitUntil(lambda: answering == {0, 1}, timeout=ANSWER_MS)
        assert "at once" in board.info.text()
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            qtbot.mouseClick(board.stop_button, Qt.LeftButton)
        for column in board.columns:
            assert "stopped" in column.stats.text()
            assert "Interrupted" in column.view.toPlainText()
            assert column.answer_text().strip()
        assert board.send_button.isEnabled()
    finally:
        tab.shutdown()


def test_the_models_picked_stay_picked_when_the_saved_connections_come_in(
    qtbot, services, hearth_home, two_quants
):
    """The saved connections are read in the background: when they come in, the pickers'
    rows are rebuilt, and each picker must still show the model the user picked (both
    showed the first model, and Send said "Pick a different model in each box")."""
    tab = open_tab(qtbot, services)
    board = tab.board
    try:
        qtbot.waitUntil(lambda: not board.listing())
        board.select(list(reversed(two_quants)))
        board.refresh_remote()
        qtbot.waitUntil(lambda: not board.listing())
        assert [c.currentText() for c in board.pickers] == [
            "SmolLM2-135M-Instruct · Q4_K_M",
            "SmolLM2-135M-Instruct · Q8_0",
        ]
        board.prompt.setPlainText("Hello")
        board.send()
        assert not board.message.isVisible()
    finally:
        board.shutdown()
