"""``hearth serve`` run as a user runs it: a subprocess, queried with the openai client."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai

from app.core.config.settings import Settings

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
    # One thread: the test machine's few cores are shared, and llama.cpp threads that wait on
    # each other crawl when another process holds a core.
    Settings(n_threads=1).save(starter_home.settings_file)
    port = free_port()
    process = subprocess.Popen(
        [
            HEARTH,
            "serve",
            "--port",
            str(port),
            "--api-key",
            "sk-cli-key1",
            "--allow-origin",
            "https://chat.example",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-cli-key1", max_retries=0, timeout=60
        )
        models = wait_ready(client, process)
        assert [m.id for m in models] == ["SmolLM2-135M-Instruct.Q4_1"]
        reply = client.chat.completions.create(
            model="SmolLM2-135M-Instruct.Q4_1",
            temperature=0,
            max_tokens=24,
            messages=[{"role": "user", "content": "Name the capital city of France."}],
        )
        assert "Paris" in reply.choices[0].message.content
        tale = "Once upon a time, there was a little"  # continued, not answered as a chat
        done = client.completions.create(
            model="SmolLM2-135M-Instruct.Q4_1", prompt=tale, temperature=0, max_tokens=12
        )
        text = done.choices[0].text
        assert done.object == "text_completion" and done.usage.completion_tokens == 12
        assert text.startswith(" ") and text.split()[0].islower(), text
        streamed = client.completions.create(
            model="SmolLM2-135M-Instruct.Q4_1",
            prompt=tale,
            temperature=0,
            max_tokens=12,
            stream=True,
        )
        assert "".join(c.choices[0].text for c in streamed) == text
        # a JSON answer, its grammar built in the model's own process
        shaped = client.chat.completions.create(
            model="SmolLM2-135M-Instruct.Q4_1",
            temperature=0,
            max_tokens=100,
            messages=[{"role": "user", "content": "Name the capital city of France."}],
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "city",
                    "schema": {
                        "type": "object",
                        "properties": {"city": {"type": "string", "maxLength": 30}},
                        "required": ["city"],
                    },
                },
            },
        )
        assert list(json.loads(shaped.choices[0].message.content)) == ["city"]
        # the page allowed on the command line may call it from a browser
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "OPTIONS",
            "/v1/chat/completions",
            headers={"Origin": "https://chat.example", "Access-Control-Request-Method": "POST"},
        )
        preflight = conn.getresponse()
        assert preflight.status == 204
        assert preflight.getheader("Access-Control-Allow-Origin") == "https://chat.example"
        conn.close()
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


def hearth(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HEARTH, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_serve_reports_a_missing_model(hearth_home):
    result = hearth("serve", "no-such-model", "--port", str(free_port()))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: No local model is called")
    result = hearth("serve", "--port", str(free_port()))  # no model given, no starter model
    assert result.returncode == 1 and "hearth setup" in result.stderr


def test_serve_help_reads_like_a_manual():
    result = hearth("serve", "--help")
    assert result.returncode == 0
    for flag in ("--port", "--host", "--api-key", "OpenAI-compatible"):
        assert flag in result.stdout
    assert "serve" in hearth("--help").stdout
