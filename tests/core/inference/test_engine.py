"""The engine against the real llama.cpp and the real starter model."""

import threading

import pytest

from app.core.common.errors import ContextFullError, LoadCancelled, ModelFileError, ModelLoadError
from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions, SamplingOptions

GREEDY = SamplingOptions(temperature=0.0, max_tokens=48, seed=1)
QUESTION = [{"role": "user", "content": "Name the capital city of France."}]


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
    stats = engine.chat(
        [{"role": "user", "content": "Count from one to one hundred in words."}],
        SamplingOptions(temperature=0.0, max_tokens=5),
        pieces.append,
    )
    assert stats.stop_reason == "length"
    assert stats.tokens <= 5


def test_stop_ends_within_one_token(engine):
    pieces = []

    def on_token(text):
        pieces.append(text)
        if len(pieces) == 3:
            engine.request_stop()

    stats = engine.chat(
        [{"role": "user", "content": "Write a long story about a dragon."}],
        SamplingOptions(temperature=0.0, max_tokens=200),
        on_token,
    )
    assert stats.stop_reason == "user"
    assert len(pieces) == 3


def test_stop_from_another_thread(engine):
    stop = threading.Event()
    pieces = []

    def on_token(text):
        pieces.append(text)
        if len(pieces) == 4:
            threading.Thread(target=stop.set).start()

    stats = engine.chat(
        [{"role": "user", "content": "Tell me about the sea."}],
        SamplingOptions(temperature=0.0, max_tokens=300),
        on_token,
        stop,
    )
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
    with pytest.raises(ModelFileError, match="runs past the end of the file"):
        engine.load(cut)  # caught by Hearth's own check (app/core/gguf/check.py), before llama.cpp
    assert engine.loaded is None


def test_load_reports_progress_and_can_be_cancelled(starter_gguf):
    engine = Engine()
    seen = []
    engine.load(starter_gguf, LoadOptions(n_ctx=512), progress=seen.append)
    assert seen and seen[-1] == pytest.approx(1.0)
    assert seen == sorted(seen)
    cancel = threading.Event()

    def cancel_midway(value):
        if value > 0.2:
            cancel.set()

    with pytest.raises(LoadCancelled, match="cancelled"):
        engine.load(starter_gguf, LoadOptions(n_ctx=512), progress=cancel_midway, cancel=cancel)
    assert engine.loaded is None


def test_context_full_is_reported_and_oldest_turns_can_be_dropped(starter_gguf):
    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=256))
    long_turns = [{"role": "system", "content": "Be brief."}]
    for i in range(12):
        long_turns += [
            {"role": "user", "content": f"Tell me fact number {i} about the moon."},
            {
                "role": "assistant",
                "content": "The moon is Earth's only natural "
                "satellite and it is about 384,000 km away from us. " * 1,
            },
        ]
    long_turns.append({"role": "user", "content": "And the sun?"})
    with pytest.raises(ContextFullError) as full:
        engine.chat(long_turns, GREEDY, lambda _t: None)
    assert full.value.limit == 256 and full.value.used > 256
    assert "Drop the oldest turns" in str(full.value)
    kept = engine.fit_messages(long_turns, reserve=48)
    assert kept[0] == long_turns[0] and kept[-1] == long_turns[-1]
    assert len(kept) < len(long_turns)
    pieces = []
    stats = engine.chat(kept, GREEDY, pieces.append)
    assert pieces and 0 < stats.context_used <= 256 and stats.context_size == 256
    engine.unload()


def test_model_template_is_used(engine):
    prompt_tokens = engine.count_tokens(QUESTION)
    from app.core.inference.engine import chat_prompt

    text = chat_prompt(engine._llm, QUESTION, True)
    assert text.startswith("<|im_start|>") and "Name the capital city of France." in text
    assert prompt_tokens > 10
    assert engine._llm.chat_format == "chat_template.default"


def test_unsupported_architecture_is_named(tmp_path):
    from gguf import GGUFWriter

    path = tmp_path / "Future-Q4_K_M.gguf"
    writer = GGUFWriter(path, "hearthnet")
    writer.add_uint32("hearthnet.context_length", 4096)
    # Sizes Hearth's own check asks of any model, so that llama.cpp is the one to refuse it.
    writer.add_uint32("hearthnet.block_count", 2)
    writer.add_uint32("hearthnet.embedding_length", 64)
    writer.add_uint32("hearthnet.attention.head_count", 4)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelLoadError, match="model architecture this llama.cpp build does not"):
        Engine().load(path)


def test_out_of_memory_while_loading_is_explained(starter_gguf):
    engine = Engine()
    with pytest.raises(ModelLoadError, match="Not enough memory to load"):
        engine.load(starter_gguf, LoadOptions(n_ctx=16_000_000))  # a KV cache of ~350 GB
    assert engine.loaded is None


def test_auto_gpu_layers_follow_the_fit_estimate(starter_gguf):
    from app.core.inference.types import AUTO_LAYERS

    engine = Engine()
    loaded = engine.load(starter_gguf, LoadOptions(n_ctx=512, n_gpu_layers=AUTO_LAYERS))
    assert loaded.fit_verdict == "CPU only — fits in RAM"  # no GPU on this machine
    assert loaded.gpu_layers == 0
    engine.unload()
