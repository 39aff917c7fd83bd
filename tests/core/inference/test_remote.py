"""Remote backends against real OpenAI-compatible servers on 127.0.0.1: llama-cpp-python's own
server (a third-party implementation) in a subprocess, and Hearth's server."""

import json
import os
import stat
import threading
import time

import pytest

from app.core.common.errors import RemoteAuthError, RemoteContextFull, RemoteError
from app.core.common.paths import default_paths
from app.core.inference.engine import Engine
from app.core.inference.queue import GenerationQueue
from app.core.inference.remote import Connection, ConnectionStore, RemoteBackend, list_models
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.server.server import ApiServer
from tests.support.llama_server import free_port
from tests.support.llama_server import llama_server as running_llama_server

GREEDY = SamplingOptions(temperature=0.0, max_tokens=32, seed=1)
QUESTION = [{"role": "user", "content": "Name the capital city of France."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]


def long_chat(turns: int, words: int) -> list[dict]:
    """``turns`` earlier turns of ``words`` words each, then the question."""
    roles = ["user", "assistant"] * turns
    return [
        {"role": role, "content": f"Turn {i}: " + "dragon " * words}
        for i, role in enumerate(roles[:turns])
    ] + QUESTION


@pytest.fixture(scope="module")
def llama_server(starter_gguf, tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server running the starter model."""
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with running_llama_server(starter_gguf, log) as url:
        yield Connection("llama.cpp server", url)


@pytest.fixture(scope="module")
def engine(starter_gguf):
    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    yield engine
    engine.unload()


@pytest.fixture
def hearth_server(engine):
    queue = GenerationQueue(engine)
    server = ApiServer(queue, port=0, api_key="sk-remote-key-5678")
    server.start()
    yield server, queue
    server.stop()
    queue.close()


def test_lists_the_models_of_a_third_party_server(llama_server, starter_gguf):
    assert list_models(llama_server) == [str(starter_gguf)]


def test_streams_an_answer_with_stats(llama_server, starter_gguf):
    backend = RemoteBackend(llama_server, str(starter_gguf))
    pieces = []
    stats = backend.generate(QUESTION, GREEDY, pieces.append)
    assert "Paris" in "".join(pieces)
    assert stats.tokens == len(pieces) > 1
    assert stats.stop_reason in ("stop", "length")
    assert stats.time_to_first_token_s > 0 and stats.tokens_per_second > 0


def test_stop_mid_stream_closes_the_stream(llama_server, starter_gguf):
    backend = RemoteBackend(llama_server, str(starter_gguf))
    stop, pieces = threading.Event(), []

    def on_token(text):
        pieces.append(text)
        if len(pieces) == 3:
            stop.set()

    def timed(max_tokens: int, on_token, stop=None) -> tuple[object, float]:
        started = time.monotonic()
        options = SamplingOptions(temperature=0.0, max_tokens=max_tokens)
        return backend.generate(STORY, options, on_token, stop), time.monotonic() - started

    # Baseline, here and now: the same prompt answered with 4 tokens (the best of two).
    baseline = min(timed(4, lambda _t: None)[1] for _ in range(2))
    stats, took = timed(400, on_token, stop)
    assert stats.stop_reason == "user" and stats.tokens == len(pieces) == 3
    # Back about as soon as a 4-token answer, not after the ~400 tokens it had asked for.
    assert took < 10 * baseline, (took, baseline)
    # The server is free again at once: the next answer is not stuck behind the stopped one.
    assert (
        RemoteBackend(llama_server, str(starter_gguf))
        .generate(QUESTION, SamplingOptions(temperature=0.0, max_tokens=4), lambda _t: None)
        .tokens
        > 0
    )


def test_engine_like_chat_and_request_stop(llama_server, starter_gguf):
    backend = RemoteBackend(llama_server, str(starter_gguf))
    pieces = []

    def on_token(text):
        pieces.append(text)
        if len(pieces) == 2:
            threading.Thread(target=backend.request_stop).start()

    stats = backend.chat(STORY, SamplingOptions(temperature=0.0, max_tokens=400), on_token)
    assert stats.stop_reason == "user" and len(pieces) < 20


def test_hearth_as_a_remote(hearth_server):
    server, queue = hearth_server
    connection = Connection("my other Hearth", server.url, "sk-remote-key-5678")
    assert list_models(connection) == ["SmolLM2-135M-Instruct.Q4_1"]
    backend = RemoteBackend(connection, "SmolLM2-135M-Instruct.Q4_1")
    pieces = []
    stats = backend.generate(QUESTION, GREEDY, pieces.append)
    assert "Paris" in "".join(pieces)
    assert stats.tokens == queue.spans[-1].tokens  # usage, as counted by the serving engine
    assert stats.prompt_tokens > 5


def test_stopping_a_hearth_remote_stops_its_engine(hearth_server):
    server, queue = hearth_server
    backend = RemoteBackend(
        Connection("h", server.url, "sk-remote-key-5678"), "SmolLM2-135M-Instruct.Q4_1"
    )
    stop, pieces = threading.Event(), []

    def on_token(text):
        pieces.append(text)
        if len(pieces) == 3:
            stop.set()

    stats = backend.generate(
        STORY, SamplingOptions(temperature=0.0, max_tokens=300), on_token, stop
    )
    assert stats.stop_reason == "user"
    deadline = time.monotonic() + 30
    while not queue.spans and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue.spans[-1].stop_reason == "user" and queue.spans[-1].tokens < 30


def test_wrong_key_and_unreachable_server_are_reported(hearth_server, caplog):
    caplog.set_level("DEBUG", logger="hearth")
    server, _queue = hearth_server
    wrong = Connection("h", server.url, "sk-wrong-key-0000")
    with pytest.raises(RemoteAuthError, match="refused the API key") as refused:
        list_models(wrong)
    with pytest.raises(RemoteAuthError):
        RemoteBackend(wrong, "m").generate(QUESTION, GREEDY, lambda _t: None)
    assert "sk-wrong-key" not in str(refused.value) + caplog.text + repr(wrong)
    nobody = Connection("gone", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RemoteError, match="Could not reach gone"):
        list_models(nobody, timeout=5)


def test_connections_are_saved_with_their_keys_private(hearth_home):
    store = ConnectionStore()
    assert store.path == default_paths().config_dir / "connections.json"
    assert store.connections() == []
    store.save(Connection("vLLM box", "http://10.0.0.5:8000/", "sk-abc-12345678"))
    store.save(Connection("Ollama", "http://127.0.0.1:11434/v1"))
    store.save(Connection("vLLM box", "http://10.0.0.6:8000"))  # replaced, by name
    assert [(c.name, c.base_url, c.api_key) for c in ConnectionStore().connections()] == [
        ("Ollama", "http://127.0.0.1:11434/v1", ""),
        ("vLLM box", "http://10.0.0.6:8000/v1", ""),
    ]
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert json.loads(store.path.read_text())["schema_version"] == 1
    store.remove("Ollama")
    assert [c.name for c in store.connections()] == ["vLLM box"]
    with pytest.raises(RemoteError, match="not a server address"):
        Connection("bad", "ftp://example")
    store.path.write_text("{damaged")
    with pytest.raises(
        RemoteError, match="could not be used .* kept the damaged file as connections.json.damaged-"
    ):
        store.connections()
    assert store.connections() == []  # said once; the damaged file is kept aside


def refused_then_fitted(backend: RemoteBackend, chat: list[dict], limit: int) -> None:
    """The server refuses ``chat`` with its own numbers; dropping the oldest turns as it
    counted them gives a chat it answers."""
    assert backend.fit_messages(chat, 32) == chat  # nothing known yet: sent whole
    with pytest.raises(RemoteContextFull) as refused:
        backend.generate(chat, GREEDY, lambda _text: None)
    assert refused.value.limit == limit and refused.value.prompt_tokens > limit
    assert f"context holds {limit:,}" in str(refused.value)
    fitted = backend.fit_messages(chat, 32)
    assert 1 < len(fitted) < len(chat) and fitted == chat[-len(fitted) :]  # oldest turns gone
    pieces = []
    stats = backend.generate(fitted, GREEDY, pieces.append)
    assert "".join(pieces).strip() and stats.tokens > 0


def test_a_third_party_server_refusing_a_long_chat_says_how_long(llama_server, starter_gguf):
    """llama-cpp-python's server ends such a stream without a word; asked once more without
    streaming it says why, in OpenAI's words (maximum context length, tokens requested)."""
    refused_then_fitted(RemoteBackend(llama_server, str(starter_gguf)), long_chat(6, 400), 2048)


def test_a_hearth_remote_refusing_a_long_chat_says_how_long(hearth_server):
    server, _queue = hearth_server
    backend = RemoteBackend(
        Connection("h", server.url, "sk-remote-key-5678"), "SmolLM2-135M-Instruct.Q4_1"
    )
    refused_then_fitted(backend, long_chat(6, 200), 1024)


def test_a_last_message_too_long_alone_is_refused_by_the_estimate(llama_server, starter_gguf):
    backend = RemoteBackend(llama_server, str(starter_gguf))
    alone = [{"role": "user", "content": "dragon " * 3000}]
    with pytest.raises(RemoteContextFull):
        backend.generate(alone, GREEDY, lambda _text: None)
    with pytest.raises(RemoteContextFull, match="context holds 2,048"):
        backend.fit_messages(alone, 32)  # nothing left to drop
