"""Models that take their process down: the host dies, Hearth does not.

Real llama.cpp on real files: sparse copies of the starter model that pass Hearth's own check
and make llama.cpp abort (tests/support/crash_models.py), and the starter's host killed mid-answer
with SIGKILL (what the system's out-of-memory killer sends) and SIGSEGV (a crash), or paused
with SIGSTOP (a host that stops answering). Each time the caller gets one clear sentence naming
the model, the answer written so far is kept, and the same ``HostedEngine`` loads and answers
again at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import openai
import pytest

from app.core.common.errors import ModelCrashed
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.types import LoadOptions, SamplingOptions
from tests.support import crash_models

pytestmark = [pytest.mark.faults, pytest.mark.slow]

QUESTION = [{"role": "user", "content": "Name the capital city of France."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]
OPTIONS = LoadOptions(n_ctx=1024, n_threads=1)
FORGED = {"a token named twice": crash_models.duplicate_token}


def answers(engine: HostedEngine) -> str:
    parts: list[str] = []
    engine.chat(QUESTION, SamplingOptions(temperature=0.0, max_tokens=16, seed=1), parts.append)
    return "".join(parts)


@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_file_that_aborts_llama_cpp_fails_its_load_only(case, faults, starter_gguf, tmp_path):
    forged = FORGED[case](starter_gguf, tmp_path)
    engine = HostedEngine()
    with faults.inject(f"model host: llama.cpp aborts loading ({case})"):
        with pytest.raises(ModelCrashed) as failed:
            engine.load(forged, OPTIONS)
        message = str(failed.value)
        assert message.startswith(f"{forged.name} could not be loaded: llama.cpp stopped")
        assert "GGML_ASSERT" in message and "/tmp/" not in message  # its own words, no paths
        assert engine.loaded is None and engine.host_pid is None
        engine.load(starter_gguf, OPTIONS)  # the same engine, at once
        assert "Paris" in answers(engine)
    engine.unload()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSEGV"])
def test_a_host_killed_mid_answer_keeps_the_partial_answer(how, faults, starter_gguf):
    engine = HostedEngine()
    engine.load(starter_gguf, OPTIONS)
    pid = engine.host_pid
    parts: list[str] = []

    def on_token(text: str) -> None:
        parts.append(text)
        if len(parts) == 5:
            os.kill(pid, getattr(signal, how))

    with faults.inject(f"model host: {how} mid-answer"):
        with pytest.raises(ModelCrashed) as failed:
            engine.chat(STORY, SamplingOptions(temperature=0.0, max_tokens=400), on_token)
        message = str(failed.value)
        assert message.startswith(f"{starter_gguf.name} stopped while answering: ")
        assert ("the system stopped it" if how == "SIGKILL" else "llama.cpp crashed") in message
        assert "\u201c" not in message  # killed from outside: llama.cpp said nothing to quote
        assert len(parts) >= 5  # what was written before the host died reached the caller
        assert engine.loaded is None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the host is gone, reaped
        engine.load(starter_gguf, OPTIONS)
        assert "Paris" in answers(engine)
    engine.unload()


def test_a_host_that_stops_answering_is_killed(faults, starter_gguf):
    engine = HostedEngine(hang_s=2.0)
    engine.load(starter_gguf, OPTIONS)
    pid = engine.host_pid
    parts: list[str] = []

    def on_token(text: str) -> None:
        parts.append(text)
        if len(parts) == 3:
            os.kill(pid, signal.SIGSTOP)  # frozen: no token, no ping

    with faults.inject("model host: hangs mid-answer"):
        with pytest.raises(ModelCrashed) as failed:
            engine.chat(STORY, SamplingOptions(temperature=0.0, max_tokens=400), on_token)
        assert "while answering: it stopped answering and was closed" in str(failed.value)
        assert len(parts) == 3
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        engine.load(starter_gguf, OPTIONS)
        assert "Paris" in answers(engine)
    engine.unload()


def test_stop_during_the_preparation_of_a_long_chat(starter_gguf):
    """Dropping old turns of a 120-message chat takes a while (each try renders and counts the
    whole chat); Stop ends it there, long before it would have ended by itself."""
    engine = HostedEngine()
    engine.load(starter_gguf, LoadOptions(n_ctx=512, n_threads=1))
    chat = [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"Message {i}: " + "the sea was calm and grey " * 12,
        }
        for i in range(120)
    ]
    sampling = SamplingOptions(temperature=0.0, max_tokens=8)
    started = time.monotonic()
    whole = engine.chat(chat, sampling, lambda _t: None, reserve=64)
    baseline = time.monotonic() - started  # preparing it fully, then a short answer
    assert whole.tokens > 0

    stop = threading.Event()
    threading.Timer(baseline / 10, stop.set).start()
    started = time.monotonic()
    stopped = engine.chat(chat, sampling, lambda _t: None, stop, reserve=64)
    took = time.monotonic() - started
    assert stopped.stop_reason == "user" and stopped.tokens == 0  # ended before any answer
    assert took < baseline / 2, (took, baseline)
    engine.unload()


def run_cli(*args: str, home) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HEARTH_HOME": str(home)},
    )


@pytest.mark.parametrize("case", sorted(FORGED))
def test_hearth_run_on_a_file_that_aborts_llama_cpp(case, faults, starter_gguf, tmp_path):
    forged = FORGED[case](starter_gguf, tmp_path)
    cores_before = set(Path.cwd().glob("core*"))
    with faults.inject(f"hearth run: llama.cpp aborts ({case})"):
        result = run_cli("run", str(forged), "-p", "Hi", home=tmp_path / "home")
        assert result.returncode == 1, result.stderr[-2000:]
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and "GGML_ASSERT" in errors[0], result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        assert set(Path.cwd().glob("core*")) == cores_before  # no core dump left behind


def test_hearth_serve_answers_an_error_then_serves_again(faults, starter_gguf, tmp_path):
    """The host is killed while the official client waits for its answer: that request gets an
    OpenAI-shaped error, and the next one is answered (the model is loaded again)."""
    from app.core.inference.queue import GenerationQueue
    from app.core.server.server import ApiServer

    engine = HostedEngine()
    engine.load(starter_gguf, OPTIONS)
    queue = GenerationQueue(
        engine, name="starter", reload=lambda: engine.load(starter_gguf, OPTIONS)
    )
    server = ApiServer(queue, port=0)
    server.start()
    try:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=120)
        with faults.inject("hearth serve: model host killed mid-request"):
            pid = engine.host_pid
            timer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
            timer.start()
            with pytest.raises(openai.InternalServerError) as failed:
                client.chat.completions.create(
                    model="starter", messages=STORY, max_tokens=2000, temperature=0.0
                )
            timer.join()
            assert "the system stopped it" in failed.value.body["message"]
            reply = client.chat.completions.create(
                model="starter", messages=QUESTION, max_tokens=16, temperature=0.0
            )
            assert "Paris" in reply.choices[0].message.content
            assert engine.host_pid not in (None, pid)
        client.close()
    finally:
        server.stop()
        queue.close()
        engine.unload()


def test_measuring_a_file_that_aborts_llama_cpp(faults, starter_gguf, tmp_path):
    """Compare's measurement runs in a host too: the file that aborts llama.cpp ends the
    measurement with a sentence; the file measured before it is kept in the store."""
    from app.core.common.errors import MeasureError
    from app.core.measure.host import measure_in_host
    from app.core.measure.measurement import MeasureSettings
    from app.core.measure.store import MeasureStore

    forged = crash_models.duplicate_token(starter_gguf, tmp_path)
    store = MeasureStore(tmp_path / "measurements.sqlite3")
    settings = MeasureSettings(tokens=128, n_ctx=128)
    with faults.inject("compare: llama.cpp aborts while measuring"):
        with pytest.raises(MeasureError) as failed:
            measure_in_host([starter_gguf, forged], store=store, settings=settings)
        assert "Measuring stopped after" in str(failed.value)
        assert "GGML_ASSERT" in str(failed.value)
        # The file measured before the crash is in the store: asked again, it is not re-run.
        assert store.latest_for_path(starter_gguf) is not None
