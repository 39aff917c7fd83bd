"""Side by side keeps llama.cpp's loading chatter ("Model metadata: ...", the loader's lines)
off the terminal Hearth was started from (issue 19): each model's host process writes it to a
pipe the studio reads into its log."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt

from tests.ui.compare.conftest import ANSWER_MS
from tests.ui.compare.test_side_by_side_tab import open_tab

CHATTER = ("Model metadata", "llama_model_loader", "print_info", "llama_context")


def test_a_round_prints_nothing_of_llama_cpp(qtbot, services, two_quants, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="hearth")
    capfd.readouterr()  # what came before the round
    tab = open_tab(qtbot, services)
    board = tab.board
    try:
        board.select(two_quants)
        board.prompt.setPlainText("Name the capital city of France.")
        with qtbot.waitSignal(board.round_finished, timeout=ANSWER_MS):
            qtbot.mouseClick(board.send_button, Qt.LeftButton)
        assert all(column.answer_text().strip() for column in board.columns)
    finally:
        tab.shutdown()
    out, err = capfd.readouterr()
    for words in CHATTER:
        assert words not in out, f"{words!r} on stdout"
        assert words not in err, f"{words!r} on stderr"
    # llama.cpp did speak while loading: its lines went to the log
    assert any("llama_model_loader" in r.getMessage() for r in caplog.records)
