"""``hearth serve`` run as a user runs it: a subprocess, queried with the openai client."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai

HEARTH = str(Path(sys.executable).with_name("hearth"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(client: openai.OpenAI, process: subprocess.Popen, tries: int = 240):
    """Poll ``GET /v1/models`` at most ``tries`` times, 0.25 s apart."""
    for _ in range(tries):
        assert process.poll() is None, process.communicate()[1]
        try:
            return client.models.list()
        except openai.APIConnectionError:
            time.sleep(0.25)
    raise AssertionError("hearth serve did not become ready")


def test_serve_answers_then_stops_on_ctrl_c(starter_home):
    port = free_port()
    process = subprocess.Popen([HEARTH, "serve", "--port", str(port), "--api-key", "sk-cli-key1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL, env=os.environ.copy())
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-cli-key1",
                               max_retries=0, timeout=60)
        models = wait_ready(client, process)
        assert [m.id for m in models] == ["SmolLM2-135M-Instruct.Q4_1"]
        reply = client.chat.completions.create(
            model="SmolLM2-135M-Instruct.Q4_1", temperature=0, max_tokens=24,
            messages=[{"role": "user", "content": "What is the capital of France?"}])
        assert "Paris" in reply.choices[0].message.content
        client.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"on http://127.0.0.1:{port}/v1" in err and "Press Ctrl-C to stop" in err
    assert out == "" and "sk-cli-key1" not in err
    assert "Traceback" not in err


def test_serve_reports_a_missing_model(hearth_home):
    result = subprocess.run([HEARTH, "serve", "no-such-model", "--port", str(free_port())],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: No local model is called")
    result = subprocess.run([HEARTH, "serve", "--port", str(free_port())], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and "hearth setup" in result.stderr


def test_serve_help_reads_like_a_manual():
    result = subprocess.run([HEARTH, "serve", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    for flag in ("--port", "--host", "--api-key", "OpenAI-compatible"):
        assert flag in result.stdout
    assert "serve" in subprocess.run([HEARTH, "--help"], capture_output=True, text=True,
                                     timeout=60).stdout
