"""The Ollama face, used by the official ``ollama`` Python client (from PyPI) and raw HTTP, on
the real server over the real starter model on 127.0.0.1."""

import http.client
import json

import ollama
import pytest

NAME = "SmolLM2-135M-Instruct.Q4_1:latest"
QUESTION = [{"role": "user", "content": "Name the capital city of France."}]


@pytest.fixture
def client(server):
    """The official ollama client, in place of the OpenAI one."""
    client = ollama.Client(host=f"http://127.0.0.1:{server.port}", timeout=60)
    yield client
    client._client.close()


def raw(server, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body))
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def test_lists_and_shows_the_model(client, server):
    assert [m.model for m in client.list().models] == [NAME]
    shown = client.show(NAME)
    assert shown.details.format == "gguf" and shown.modelinfo["hearth.context_length"] == 1024
    with pytest.raises(ollama.ResponseError) as missing:
        client.show("llama3")
    assert missing.value.status_code == 404 and "llama3" in missing.value.error
    status, _, body = raw(server, "GET", "/api/version")
    assert status == 200 and json.loads(body)["version"]


def test_chats_whole_and_streamed(client):
    whole = client.chat(model=NAME, messages=QUESTION, stream=False, options={"num_predict": 24})
    assert "Paris" in whole.message.content and whole.done and whole.eval_count > 0
    pieces = list(
        client.chat(model=NAME, messages=QUESTION, stream=True, options={"num_predict": 24})
    )
    assert all(not p.done for p in pieces[:-1]) and pieces[-1].done
    assert "".join(p.message.content for p in pieces) == whole.message.content
    assert pieces[-1].eval_count == whole.eval_count and pieces[-1].done_reason == whole.done_reason


def test_generates_with_options(client):
    answer = client.generate(
        model=NAME, prompt="Once upon a time", raw=True, options={"num_predict": 5}
    )
    assert answer.done_reason == "length" and answer.eval_count == 5 and answer.response
    stopped = client.generate(
        model=NAME, prompt="Count: 1, 2, 3,", raw=True, options={"num_predict": 40, "stop": ["6"]}
    )
    assert "6" not in stopped.response and stopped.done_reason == "stop"
    templated = client.generate(model=NAME, prompt="Name the capital city of France.", stream=False)
    assert "Paris" in templated.response


def test_a_json_format_is_followed(client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    answer = client.chat(model=NAME, messages=QUESTION, format=schema, options={"num_predict": 100})
    assert list(json.loads(answer.message.content)) == ["city"]
    answer = client.generate(
        model=NAME,
        prompt="Describe a cat as a JSON object.",
        format="json",
        options={"num_predict": 200},
    )
    assert answer.done_reason == "stop" and isinstance(json.loads(answer.response), dict)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": QUESTION, "options": {"mirostat": 2}}, "mirostat"),
        ({"messages": QUESTION, "tools": [{"type": "function"}]}, "tools"),
        ({"messages": [{"role": "user", "content": "hi", "images": ["aGk="]}]}, "images"),
        ({"messages": QUESTION, "model": "llama3"}, "llama3"),
        ({"messages": QUESTION, "options": {"temperature": 9}}, "temperature"),
    ],
)
def test_what_cannot_be_honoured_is_refused_in_ollamas_shape(server, body, param):
    status, _, answer = raw(server, "POST", "/api/chat", {"model": NAME, **body})
    assert status in (400, 404) and param in json.loads(answer)["error"]


def test_an_empty_request_loads_without_answering(server):
    status, _, answer = raw(server, "POST", "/api/generate", {"model": NAME})
    assert status == 200 and json.loads(answer)["done_reason"] == "load"
    server.stop()  # its connection threads joined: every request is noted by now
    assert [r.tokens for r in server.requests()] == [0]
