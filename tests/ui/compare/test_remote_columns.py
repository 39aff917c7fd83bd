"""Side by side and the arena with a remote column: llama-cpp-python's own OpenAI-compatible
server (``llama_cpp.server``, a real third-party server) runs the starter model on 127.0.0.1;
the other column is a real local ladder quant run by llama.cpp in Hearth."""

from __future__ import annotations

import pytest

from app.core.inference.remote import Connection, ConnectionStore
from app.ui.compare.arena_view import ArenaView
from app.ui.compare.side_by_side_tab import SideBySideTab
from tests.support.llama_server import llama_server
from tests.support.screenshots import screenshot
from tests.ui.compare.conftest import ANSWER_MS, SAMPLING, library_of, place


@pytest.fixture(scope="module")
def server(starter_gguf, tmp_path_factory):
    with llama_server(starter_gguf, tmp_path_factory.mktemp("llama") / "server.log") as url:
        yield url


@pytest.fixture
def local_quant(quant_ladder, hearth_home):
    return place([quant_ladder["Q8_0"]], hearth_home.models_dir)[0]


def open_board(qtbot, services, cls=SideBySideTab):
    lib = library_of(services.paths.models_dir)
    parts = dict(
        machine=services.machine.machine,
        connections=services.connections,
        sessions=services.new_session,
        sampling=SAMPLING,
    )
    if cls is ArenaView:
        tab = ArenaView(lib, store=services.stores.arena, **parts)
    else:
        tab = SideBySideTab(lib, **parts)
    tab.library_model = lib  # keep it alive with the tab
    qtbot.addWidget(tab)
    tab.resize(1100, 640)
    tab.show()  # lists the saved connections' models off the GUI thread
    qtbot.waitUntil(lambda: not tab.board.listing(), timeout=30_000)
    return tab


def test_a_local_and_a_remote_column_stream_with_stats_and_stop_stops_both(
    qtbot, services, hearth_home, local_quant, server, starter_gguf
):
    ConnectionStore().save(Connection("Workstation", server))
    tab = open_board(qtbot, services)
    board = tab.board
    try:
        remote_label = f"Workstation · {starter_gguf.name}"
        assert remote_label in [
            board.pickers[0].itemText(r) for r in range(board.pickers[0].count())
        ]
        board.select([local_quant, f"remote:Workstation:{starter_gguf}"])
        assert [p.currentText() for p in board.pickers] == [
            "SmolLM2-135M-Instruct · Q8_0",
            remote_label,
        ]
        board.prompt.setPlainText("Name the capital city of France.")
        statuses = set()
        board.runner.status.connect(lambda _index, text: statuses.add(text))
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.send()
            assert board.stop_button.isEnabled() and not board.send_button.isEnabled()
        assert "remote model answers on its server" in board.info.text()
        assert statuses >= {"Connecting to Workstation...", "Thinking...", "Answering..."}
        assert [c.title.text() for c in board.columns] == [
            "SmolLM2-135M-Instruct · Q8_0",
            remote_label,
        ]
        for column in board.columns:
            assert column.answer_text().strip()
            assert column.answer_text().split()[0] in column.view.toPlainText()
            stats = column.stats.text()
            assert "tok/s" in stats and "first token" in stats and "tokens" in stats
        assert board.send_button.isEnabled() and not board.stop_button.isEnabled()
        screenshot(tab, "compare_side_by_side_remote.png")

        answering = set()
        board.runner.started.connect(answering.add)
        board.prompt.setPlainText("Write a long story about a dragon.")
        board.sampling = SAMPLING.__class__(temperature=0.0, seed=1, max_tokens=600)
        board.send()
        qtbot.waitUntil(lambda: answering == {0, 1}, timeout=ANSWER_MS)
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.stop()
        for column in board.columns:
            assert column.answer_text().strip()
            assert "stopped" in column.stats.text()
            assert len(column.answer_text().split()) < 400  # cut short, not the whole story
        assert board.send_button.isEnabled()
    finally:
        tab.shutdown()


def test_an_unreachable_connection_says_so_and_the_other_column_answers(
    qtbot, services, hearth_home, local_quant, starter_gguf, tmp_path
):
    # A second real server, listed while up, then shut down before Send.
    with llama_server(starter_gguf, tmp_path / "gone.log") as url:
        ConnectionStore().save(Connection("Old laptop", url))
        tab = open_board(qtbot, services)
    board = tab.board
    try:
        board.select([local_quant, f"remote:Old laptop:{starter_gguf}"])
        assert board.pickers[1].currentText() == f"Old laptop · {starter_gguf.name}"
        board.prompt.setPlainText("Name the capital city of France.")
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.send()
        local, remote = board.columns
        assert local.answer_text().strip() and "tok/s" in local.stats.text()
        assert remote.answer_text() == "" and remote.stats.text() == ""
        assert remote.status.text().startswith(f"Could not reach Old laptop at {url}")
        assert "Is the server running" in remote.status.text()
        screenshot(tab, "compare_side_by_side_unreachable.png")
    finally:
        tab.shutdown()


def test_the_arena_labels_a_remote_column_by_connection_and_model(
    qtbot, services, hearth_home, local_quant, server, starter_gguf
):
    ConnectionStore().save(Connection("Workstation", server))
    view = open_board(qtbot, services, ArenaView)
    board = view.board
    try:
        board.select([local_quant, f"remote:Workstation:{starter_gguf}"])
        board.prompt.setPlainText("Name the capital city of France.")
        statuses = set()
        board.runner.status.connect(lambda _index, text: statuses.add(text))
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            board.send()
        assert not any("Workstation" in text for text in statuses)  # nothing gives it away
        assert [c.title.text() for c in board.columns] == ["Answer A", "Answer B"]
        assert all(b.isEnabled() for b in view.vote_buttons)
        remote_column = next(i for i, m in enumerate(board.column_models) if m is None)
        with qtbot.waitSignal(view.standings_shown):  # written in the background
            view.vote(remote_column)
        letter = "AB"[remote_column]
        label = f"Workstation · {starter_gguf.name}"
        assert board.columns[remote_column].title.text() == f"Answer {letter}: {label}"
        assert (
            board.columns[1 - remote_column].title.text() == f"Answer {'BA'[remote_column]}: Q8_0"
        )
        assert view.result.text() == f"You picked Answer {letter}: {label}."
        assert view.standings.index(0, 0).data() == label
        screenshot(view, "compare_arena_remote.png")
    finally:
        view.shutdown()
