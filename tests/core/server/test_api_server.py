"""Hearth's OpenAI-compatible server, queried by the official ``openai`` client on 127.0.0.1,
answering with the real starter model."""

import http.client
import json
import re
import socket
import threading
import time

import openai
import pytest

from app.core.common.errors import ServerError
from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.server.schema import StopMatcher
from app.core.server.server import ApiServer

QUESTION = [{"role": "user", "content": "Name the capital city of France."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]
MODEL = "SmolLM2-135M-Instruct.Q4_1"


class RecordingEngine(Engine):
    """The real engine, noting when each generation (chat or raw completion) holds it and how
    many run at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0
        self.spans: list[tuple[float, float, object]] = []

    def chat(self, *args, **kwargs):
        return self._recorded(super().chat, *args, **kwargs)

    def complete(self, *args, **kwargs):
        return self._recorded(super().complete, *args, **kwargs)

    def _recorded(self, generate, *args, **kwargs):
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        started, stats = time.monotonic(), None
        try:
            stats = generate(*args, **kwargs)
            return stats
        finally:
            with self.lock:
                self.inside -= 1
                self.spans.append((started, time.monotonic(), stats))


@pytest.fixture(scope="module")
def engine(starter_gguf):
    engine = RecordingEngine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    yield engine
    engine.unload()


def raw_request(server, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def wait_until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_lists_the_loaded_model(client, server):
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).owned_by == "hearth"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")
    assert server.url.startswith("http://127.0.0.1:")


def test_answers_a_chat(client, server, engine):
    reply = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=32)
    answer = reply.choices[0].message
    assert answer.role == "assistant" and "Paris" in answer.content
    assert reply.choices[0].finish_reason in ("stop", "length")
    stats = engine.spans[-1][2]
    assert reply.usage.completion_tokens == stats.tokens > 1
    assert reply.usage.prompt_tokens == stats.prompt_tokens > 5
    assert reply.model == MODEL and reply.id.startswith("chatcmpl-")
    assert wait_until(server.requests)  # noted once the answer is sent: it may lag the reply
    logged = server.requests()[-1]
    assert (logged.method, logged.path, logged.status, logged.tokens) == (
        "POST",
        "/v1/chat/completions",
        200,
        stats.tokens,
    )


def test_streams_a_chat_with_usage(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=32,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length") and not any(finishes[:-1])
    assert chunks[-1].usage.completion_tokens > 1 and not chunks[-1].choices


TALE = "Once upon a time, there was a little"


def test_completes_a_raw_prompt(client, engine):
    """The prompt is continued as it stands, not answered as a chat message."""
    reply = client.completions.create(model=MODEL, prompt=TALE, max_tokens=12, temperature=0)
    text = reply.choices[0].text
    assert reply.object == "text_completion" and reply.id.startswith("cmpl-")
    assert text.startswith(" ") and text.split()[0].islower(), text  # " girl named ..."
    stats = engine.spans[-1][2]
    assert reply.usage.completion_tokens == stats.tokens == 12
    assert reply.choices[0].finish_reason == "length"
    # the prompt's own tokens only: a chat template would add a system prompt and markers
    assert (
        reply.usage.prompt_tokens
        == stats.prompt_tokens
        == len(engine._llm.tokenize(TALE.encode(), add_bos=True, special=True))
    )
    direct = []
    engine.complete(TALE, SamplingOptions(temperature=0.0, seed=1, max_tokens=12), direct.append)
    assert text == "".join(direct)

    stream = client.completions.create(
        model=MODEL,
        prompt=TALE,
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == text
    assert all(c.object == "text_completion" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 12


def test_completes_several_prompts_with_stop_strings(client):
    prompts = [TALE, "The capital of France is"]
    reply = client.completions.create(
        model=MODEL, prompt=prompts, max_tokens=16, temperature=0, stop=["."]
    )
    assert [c.index for c in reply.choices] == [0, 1]
    assert "Paris" in reply.choices[1].text and "." not in reply.choices[1].text
    assert reply.choices[1].finish_reason == "stop"
    single = client.completions.create(
        model=MODEL, prompt=TALE, max_tokens=16, temperature=0, stop=["."]
    )
    assert reply.choices[0].text == single.choices[0].text  # each prompt on its own
    streamed = client.completions.create(
        model=MODEL, prompt=prompts, max_tokens=16, temperature=0, stop=["."], stream=True
    )
    texts = ["", ""]
    for chunk in streamed:
        texts[chunk.choices[0].index] += chunk.choices[0].text
    assert texts == [c.text for c in reply.choices]


def test_echo_puts_the_prompt_before_its_continuation(client):
    plain = client.completions.create(model=MODEL, prompt=TALE, max_tokens=6, temperature=0)
    echoed = client.completions.create(
        model=MODEL, prompt=TALE, max_tokens=6, temperature=0, echo=True
    )
    assert echoed.choices[0].text == TALE + plain.choices[0].text
    streamed = client.completions.create(
        model=MODEL, prompt=TALE, max_tokens=6, temperature=0, echo=True, stream=True
    )
    assert "".join(c.choices[0].text for c in streamed) == echoed.choices[0].text
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model=MODEL, prompt=TALE, suffix=" the end.", max_tokens=4)
    assert refused.value.body["param"] == "suffix"


@pytest.mark.parametrize(
    "prompt, code",
    [
        ([1, 2, 3], "invalid_type"),
        ([], "missing_required_parameter"),
        (["a"] * 9, "invalid_value"),
        ("dragon " * 6000, "context_length_exceeded"),
    ],
)
def test_bad_prompts_are_refused(client, prompt, code):
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model=MODEL, prompt=prompt, max_tokens=4)
    assert refused.value.body["code"] == code and refused.value.body["param"] == "prompt"


def test_chats_far_too_large_are_refused_before_the_queue(client, engine):
    """Refused while another answer holds the model: they never wait in the queue for it.
    Told by the order of events, not by seconds: the long answer started before them and was
    still being written when both refusals had come back."""
    before = len(engine.spans)
    story = client.chat.completions.create(
        model=MODEL, messages=STORY, max_tokens=900, stream=True
    )  # 778 tokens, greedy: far longer than the refusals take, on any machine
    next(iter(story))  # the model holds the one generation thread now
    for messages, text in (
        ([{"role": "user", "content": "hi"}] * 300, "300 messages"),
        ([{"role": "user", "content": "a" * 40_000}], "40,000 characters"),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model=MODEL, messages=messages, max_tokens=4)
        body = refused.value.body
        assert body["code"] == "context_length_exceeded" and text in body["message"]
        assert "1,024 tokens" in body["message"]
    refused_at = time.monotonic()
    story.close()
    assert wait_until(lambda: len(engine.spans) > before)
    assert len(engine.spans) == before + 1  # the story alone was generated
    _, ended, stats = engine.spans[-1]
    assert ended > refused_at and stats.stop_reason == "user"  # stopped by us, after them


def test_one_address_holds_at_most_its_share_of_connections(serve):
    server = serve(max_per_client=2)
    try:
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=30),
            socket.create_connection(("127.0.0.1", server.port), timeout=30),
        ):
            assert wait_until(lambda: server.open_connections == 2, 5)
            status, body = raw_request(server, "GET", "/v1/models")
            assert status == 429 and body["error"]["code"] == "too_many_connections"
            assert "2 connections" in body["error"]["message"]
        assert wait_until(lambda: server.open_connections == 0, 5)
        assert raw_request(server, "GET", "/v1/models")[0] == 200
    finally:
        server.stop()


def test_stop_string_cuts_the_answer(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=32, stop=["Paris"]
    )
    assert "Paris" not in reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"


def test_api_key_is_required_and_never_logged(serve, caplog):
    caplog.set_level("DEBUG", logger="hearth")
    key = "sk-hearth-secret-1234"
    server = serve(api_key=key)
    try:
        bad = openai.OpenAI(base_url=server.url, api_key="wrong-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as refused:
            bad.models.list()
        bad.close()
        assert refused.value.status_code == 401
        assert refused.value.body["code"] == "invalid_api_key"
        status, body = raw_request(
            server,
            "POST",
            "/v1/chat/completions",  # no key at all
            json.dumps({"messages": QUESTION}).encode(),
        )
        assert status == 401 and body["error"]["type"] == "invalid_request_error"
        good = openai.OpenAI(base_url=server.url, api_key=key, max_retries=0)
        assert [m.id for m in good.models.list()] == [MODEL]
        good.close()
    finally:
        server.stop()
    assert [r.status for r in server.requests()] == [401, 401, 200]
    assert key not in caplog.text and "GET /v1/models 401" in caplog.text


@pytest.mark.parametrize(
    "body, param",
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (json.dumps({"model": MODEL}).encode(), "messages"),
        (json.dumps({"messages": "hello"}).encode(), "messages"),
        (
            json.dumps({"messages": [{"role": "wizard", "content": "hi"}]}).encode(),
            "messages[0].role",
        ),
        (json.dumps({"messages": QUESTION, "temperature": "hot"}).encode(), "temperature"),
        (json.dumps({"messages": QUESTION, "max_tokens": 0}).encode(), "max_tokens"),
    ],
)
def test_malformed_requests_get_openai_errors(server, body, param):
    status, answer = raw_request(
        server, "POST", "/v1/chat/completions", body, {"Content-Type": "application/json"}
    )
    assert status == 400
    error = answer["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["param"] == param


def test_the_openai_client_sees_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user"}], max_tokens=4)
    assert refused.value.body["param"] == "messages[0].content"


def test_a_chat_too_long_for_the_context_is_refused(client):
    long = [{"role": "user", "content": "dragon " * 3000}]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=long, max_tokens=4)
    assert refused.value.body["code"] == "context_length_exceeded"
    assert re.match(
        r"This model's maximum context length is 1024 tokens\. However, you "
        r"requested \d{4} tokens\.",
        refused.value.body["message"],
    )


def test_huge_body_is_refused_unread(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"
        )
        answer = b""
        while chunk := sock.recv(65536):  # the server answers and closes without reading
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"]["code"] == "request_too_large"


def test_unknown_paths_and_methods(server):
    status, body = raw_request(server, "GET", "/v1/files")
    assert status == 404 and body["error"]["code"] == "unknown_url"
    status, body = raw_request(server, "GET", "/v1/chat/completions")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    status, body = raw_request(server, "DELETE", "/v1/models")
    assert status == 501 and "error" in body


def test_too_many_connections_are_turned_away(serve):
    server = serve(max_connections=1)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30):
            assert wait_until(lambda: server.open_connections == 1, 5)
            status, body = raw_request(server, "GET", "/v1/models")
        assert status == 503 and body["error"]["code"] == "server_busy"
    finally:
        server.stop()


def test_disconnecting_mid_stream_stops_the_generation(client, server, engine):
    before = len(engine.spans)
    stream = client.chat.completions.create(
        model=MODEL, messages=STORY, max_tokens=300, stream=True
    )
    received = 0
    for chunk in stream:
        received += bool(chunk.choices and chunk.choices[0].delta.content)
        if received == 3:
            break
    stream.close()  # the client goes away
    assert wait_until(lambda: len(engine.spans) > before)
    stats = engine.spans[-1][2]
    assert stats.stop_reason == "user"
    assert 3 <= stats.tokens < 20
    assert wait_until(lambda: server.requests() and server.requests()[-1].tokens == stats.tokens)


def test_two_clients_are_answered_one_after_the_other(server, engine):
    before = len(engine.spans)
    answers = {}

    def ask(name):
        with openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=60) as c:
            reply = c.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=12)
            answers[name] = reply.choices[0].message.content

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(answers) == ["a", "b"] and all(answers.values())
    assert answers["a"] == answers["b"]  # greedy, same seed: the same answer
    first, second = engine.spans[before : before + 2]
    assert engine.most_inside == 1
    assert first[1] <= second[0]  # the second began after the first ended


def test_a_port_in_use_is_reported(server, queue):
    with pytest.raises(ServerError, match=f"Port {server.port} is already in use"):
        ApiServer(queue, port=server.port).start()


def test_stop_matcher_holds_back_a_possible_stop_string():
    matcher = StopMatcher(("END",))
    assert matcher.feed("Hello E") == "Hello "
    assert matcher.feed("N") == ""
    assert matcher.feed("D and more") == "" and matcher.hit
    matcher = StopMatcher(("END",))
    assert matcher.feed("an E") == "an " and matcher.feed("nd") == "End" and not matcher.hit
    assert matcher.feed(" x") + matcher.flush() == " x"


def test_a_hung_request_thread_does_not_hold_a_bounded_stop(serve, engine, monkeypatch):
    entered, release = threading.Event(), threading.Event()

    def hung_chat(*_args, **_kwargs):  # a generation that ignores every stop request
        entered.set()
        release.wait(60)
        raise RuntimeError("released")

    monkeypatch.setattr(engine, "chat", hung_chat)
    server = serve()
    asking = threading.Thread(target=_ask_ignoring_errors, args=(server,))
    asking.start()
    try:
        assert entered.wait(30)
        left = server.stop(timeout_s=0.2)
        # stop() came back while the request's thread was still inside the generation.
        assert not release.is_set() and entered.is_set()
        assert len(left) == 1 and left[0].startswith("hearth-api-127.0.0.1")
        assert not server.running
    finally:
        release.set()
        asking.join(60)
    assert not asking.is_alive()


def _ask_ignoring_errors(server):
    try:
        raw_request(
            server, "POST", "/v1/chat/completions", json.dumps({"messages": QUESTION}).encode()
        )
    except (OSError, ValueError, http.client.HTTPException):
        pass  # the connection was closed under it
