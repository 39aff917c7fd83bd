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


def test_serve_loads_the_projector_beside_the_model_and_reads_images(
    hearth_home, starter_gguf, tmp_path
):
    """The zoo's random-weight vision pair in one folder (its answers are not judged): the start
    says which projector it found, and an image is encoded into the prompt."""
    import base64
    import shutil

    from app.bench.zoo.vision import IMAGE_TOKENS, sample_png, vision_pair
    from tests.conftest import cache_root

    pair = vision_pair(starter_gguf, cache_root() / "zoo")
    folder = tmp_path / "vision"
    folder.mkdir()
    for path in (pair.model, pair.mmproj):
        shutil.copy(path, folder / path.name)
    Settings(n_threads=1).save(hearth_home.settings_file)
    port = free_port()
    process = subprocess.Popen(
        [HEARTH, "serve", str(folder / pair.model.name), "--port", str(port), "--ctx", "512"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=60
        )
        model = wait_ready(client, process).data[0].id
        question = [{"type": "text", "text": "What is in this picture?"}]
        alone = client.chat.completions.create(
            model=model, max_tokens=2, messages=[{"role": "user", "content": question}]
        )
        url = "data:image/png;base64," + base64.b64encode(sample_png()).decode()
        image = {"type": "image_url", "image_url": {"url": url}}
        seen = client.chat.completions.create(
            model=model, max_tokens=2, messages=[{"role": "user", "content": [*question, image]}]
        )
        assert seen.usage.prompt_tokens == alone.usage.prompt_tokens + IMAGE_TOKENS
        client.close()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert f"with its image projector {pair.mmproj.name}, found beside it" in err
    assert "(reads images)" in err and "Traceback" not in err


def test_serve_takes_the_projector_given_or_none(tmp_path):
    from app.cli import load_flags

    model = tmp_path / "model-Q4_K_M.gguf"
    found = tmp_path / "mmproj-model-f16.gguf"
    for path in (model, found):
        path.write_bytes(b"GGUF" + bytes(60))
    assert load_flags.projector("", model)[0] == str(found)
    assert load_flags.projector("none", model) == ("", "")  # left out, as asked
    assert load_flags.projector("/elsewhere/mmproj.gguf", model) == ("/elsewhere/mmproj.gguf", "")
    found.unlink()
    assert load_flags.projector("", model) == ("", "")  # a text model: nothing said
