"""ChatSession.close on the real starter model: the GUI hands the model back without waiting."""

from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.types import LoadOptions, SamplingOptions
from app.ui.session.session import ChatSession

STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]
MS = 90_000


def test_close_mid_answer_unloads_in_the_background(qtbot, starter_gguf):
    engine = HostedEngine()
    session = ChatSession(engine=engine)
    with qtbot.waitSignal(session.loaded, timeout=MS):
        session.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    got = []
    reply = session.send(STORY, SamplingOptions(temperature=0.0, seed=1, max_tokens=2000))
    reply.token.connect(got.append)
    qtbot.waitUntil(lambda: len(got) >= 2, timeout=MS)
    closed = []
    session.closed.connect(lambda: closed.append(True))

    session.close()
    assert closed == []  # close() returned before the worker was done: the GUI did not wait
    assert session.model is None
    qtbot.waitUntil(lambda: closed == [True], timeout=MS)
    assert not session._thread.isRunning()
    assert engine.loaded is None and engine.host_pid is None  # its process is gone
    session.shutdown()  # after close: returns at once, nothing left to stop
    session.close()  # twice: nothing happens
    assert closed == [True]


def test_close_before_anything_loaded(qtbot):
    session = ChatSession()
    with qtbot.waitSignal(session.closed, timeout=10_000):
        session.close()
    assert not session._thread.isRunning()
