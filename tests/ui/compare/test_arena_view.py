"""The blind arena with real llama.cpp answers and the real SQLite tally (written and read in
the background: the tests wait for ``standings_shown``)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.core.compare.arena import ArenaStore, Standing, arena_db
from app.ui.compare.arena_view import ArenaView
from app.ui.compare.standings_model import StandingsModel
from tests.support.screenshots import screenshot
from tests.ui.compare.conftest import ANSWER_MS, SAMPLING, library_of


def open_arena(qtbot, services, store=None):
    lib = library_of(services.paths.models_dir)
    view = ArenaView(
        lib,
        store=store or services.stores.arena,
        machine=services.machine.machine,
        connections=services.connections,
        sessions=services.new_session,
        sampling=SAMPLING,
    )
    view.library_model = lib
    qtbot.addWidget(view)
    view.resize(1100, 760)
    with qtbot.waitSignal(view.standings_shown):  # the tally, read in the background
        view.show()
    return view


def rows(view):
    model = view.standings
    return [
        [model.index(r, c).data() for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def test_vote_reveals_the_labels_and_the_tally_survives_a_restart(
    qtbot, services, hearth_home, two_quants
):
    view = open_arena(qtbot, services)
    board = view.board
    try:
        assert rows(view) == [] and not view.reset_button.isEnabled()
        board.select(two_quants)
        board.prompt.setPlainText("Name the capital city of France.")
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.send()
        assert [c.title.text() for c in board.columns] == ["Answer A", "Answer B"]
        for column in board.columns:
            assert column.answer_text().strip() and "tok/s" in column.stats.text()
            assert "Q8_0" not in column.title.text() and "Q4_K_M" not in column.title.text()
        assert [b.text() for b in view.vote_buttons] == ["A is better", "Tie", "B is better"]
        assert all(b.isEnabled() for b in view.vote_buttons)
        screenshot(view, "compare_arena.png")
        winner = board.column_models[1].quant  # the model that answered in column B
        loser = board.column_models[0].quant
        with qtbot.waitSignal(view.standings_shown):
            view.vote_buttons[2].click()
        assert board.columns[1].title.text() == f"Answer B: {winner}"
        assert board.columns[0].title.text() == f"Answer A: {loser}"
        assert view.result.text() == f"You picked Answer B: {winner}."
        assert not any(b.isEnabled() for b in view.vote_buttons)
        assert rows(view) == [[winner, "1", "0", "0", "1016"], [loser, "0", "1", "0", "984"]]
        screenshot(view, "compare_arena_revealed.png")
        view.vote(0)  # a second click on the same round counts nothing
        assert len(ArenaStore(arena_db(hearth_home.data_dir)).votes()) == 1
    finally:
        view.shutdown()
    view.close()
    # A restart: a new widget and a new store on the same data folder.
    again = open_arena(qtbot, services, ArenaStore(arena_db(hearth_home.data_dir)))
    assert rows(again) == [[winner, "1", "0", "0", "1016"], [loser, "0", "1", "0", "984"]]
    vote = again.store.votes()[0]
    assert vote.prompt == "Name the capital city of France."
    assert again.reset_button.isEnabled()
    asked = []
    again.confirm = lambda _parent, question: asked.append(question) or False
    again.reset_button.click()  # the user says No: nothing is forgotten
    assert "cannot be undone" in asked[0] and len(rows(again)) == 2
    again.confirm = lambda _parent, _question: True
    with qtbot.waitSignal(again.standings_shown):
        again.reset_button.click()
    assert rows(again) == [] and again.store.votes() == []
    assert again.result.text() == "Standings reset: every vote was forgotten."
    assert not again.reset_button.isEnabled()
    again.shutdown()


def test_three_columns_pick_the_best_or_call_it_even(qtbot, services, hearth_home, quant_ladder):
    from tests.ui.compare.conftest import place

    files = place([quant_ladder[q] for q in ("Q8_0", "Q4_K_M", "Q3_K_M")], hearth_home.models_dir)
    view = open_arena(qtbot, services)
    board = view.board
    try:
        board.select(files)
        assert len(board.pickers) == 3
        board.prompt.setPlainText("Say hello.")
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.send()
        assert [b.text() for b in view.vote_buttons] == [
            "A is best",
            "B is best",
            "C is best",
            "All about the same",
        ]
        with qtbot.waitSignal(view.standings_shown):
            view.vote_buttons[3].click()
        labels = sorted(m.quant for m in board.column_models)
        assert view.result.text().startswith("A tie between ")
        assert sorted(r[0] for r in rows(view)) == labels
        assert all(r[1:4] == ["0", "0", "2"] and r[4] == "1000" for r in rows(view))
    finally:
        view.shutdown()


def test_standings_model_passes_the_model_tester(qtmodeltester):
    model = StandingsModel()
    model.set_standings([Standing("Q8_0", 3, 1, 0, 1030.4), Standing("Q2_K", 1, 3, 0, 969.6)])
    qtmodeltester.check(model)
    assert [model.index(0, c).data() for c in range(5)] == ["Q8_0", "3", "1", "0", "1030"]
    assert model.headerData(4, Qt.Horizontal) == "Rating"
    model.set_standings([])
    qtmodeltester.check(model)
