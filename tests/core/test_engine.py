"""The engine against the real llama.cpp and the real starter model."""

import threading

import pytest

from app.core.engine import Engine, LoadOptions, SamplingOptions
from app.core.errors import ModelFileError, ModelLoadError

GREEDY = SamplingOptions(temperature=0.0, max_tokens=48, seed=1)
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def engine(starter_gguf):
    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=2))
    yield engine
    engine.unload()


def test_streams_an_answer_with_stats(engine):
    pieces = []
    stats = engine.chat(QUESTION, GREEDY, pieces.append)
    answer = "".join(pieces)
    assert "Paris" in answer
    assert len(pieces) == stats.tokens > 1
    assert stats.stop_reason in ("stop", "length")
    assert stats.tokens_per_second > 0
    assert engine.loaded.has_chat_template


def test_same_seed_same_answer(engine):
    first, second = [], []
    engine.chat(QUESTION, GREEDY, first.append)
    engine.chat(QUESTION, GREEDY, second.append)
    assert first == second


def test_max_tokens_ends_with_length(engine):
    pieces = []
    stats = engine.chat([{"role": "user", "content": "Count from one to one hundred in words."}],
                        SamplingOptions(temperature=0.0, max_tokens=5), pieces.append)
    assert stats.stop_reason == "length"
    assert stats.tokens <= 5


def test_stop_ends_within_one_token(engine):
    pieces = []

    def on_token(text):
        pieces.append(text)
        if len(pieces) == 3:
            engine.request_stop()

    stats = engine.chat([{"role": "user", "content": "Write a long story about a dragon."}],
                        SamplingOptions(temperature=0.0, max_tokens=200), on_token)
    assert stats.stop_reason == "user"
    assert len(pieces) == 3


def test_stop_from_another_thread(engine):
    stop = threading.Event()
    pieces = []

    def on_token(text):
        pieces.append(text)
        if len(pieces) == 4:
            threading.Thread(target=stop.set).start()

    stats = engine.chat([{"role": "user", "content": "Tell me about the sea."}],
                        SamplingOptions(temperature=0.0, max_tokens=300), on_token, stop)
    assert stats.stop_reason == "user"
    assert len(pieces) < 10


def test_missing_and_broken_files_are_reported(tmp_path, starter_gguf):
    engine = Engine()
    with pytest.raises(ModelFileError, match="does not exist"):
        engine.load(tmp_path / "missing.gguf")
    text = tmp_path / "text.gguf"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        engine.load(text)
    cut = tmp_path / "cut.gguf"
    with open(starter_gguf, "rb") as src:
        cut.write_bytes(src.read(20_000_000))
    with pytest.raises(ModelLoadError, match="damaged or incomplete"):
        engine.load(cut)
    assert engine.loaded is None
