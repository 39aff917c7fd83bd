"""A chat answer of the real starter model becomes a measured speed, and the speed figures of
that file say ``measured`` from then on."""

import pytest

from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.core.fit import speed, speed_log
from app.core.fit.machine_info import MachineInfo
from app.core.fit.shape import shape_from_file
from app.core.hardware import cpu_speed
from app.ui.main_window import MainWindow
from tests.support.chat_ui import ask

LOAD_MS = 60_000


def test_a_chat_answer_is_recorded_and_makes_the_speed_measured(qtbot, starter_home):
    win = MainWindow(
        starter_home, Settings(sampling=Sampling(max_tokens=48, temperature=0.0, seed=1))
    )
    qtbot.addWidget(win)
    try:
        with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
            win.show()
        loaded = win.session.model
        _answer, stats = ask(qtbot, win.chat_page, "Tell me a long story about a fox.")
    finally:
        win.shutdown()
    assert stats.tokens >= speed_log.MIN_TOKENS
    [run] = speed_log.runs(starter_home.data_dir, cpu_speed.this_machine())
    assert (run.path, run.tokens, run.threads) == (str(loaded.path), stats.tokens, loaded.n_threads)
    assert run.tok_s == stats.tokens_per_second and run.depth > 0
    here = MachineInfo(starter_home.models_dir, data_dir=starter_home.data_dir).speeds()
    figure = here.speed(shape_from_file(loaded.path), depth=run.depth)
    assert figure.basis == speed.MEASURED and figure.gen_tok_s == pytest.approx(run.tok_s)
