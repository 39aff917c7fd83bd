"""The OpenAI parameters that change an answer: honoured, or refused with a 400 naming the
parameter, never answered 200 as if honoured. Asked with the official ``openai`` client (and raw
HTTP where it cannot say it) of the real server over the real starter model on 127.0.0.1."""

import http.client
import json

import openai
import pytest

from app.core.inference.types import LoadOptions, SamplingOptions

MODEL = "SmolLM2-135M-Instruct.Q4_1"
QUESTION = [{"role": "user", "content": "Name the capital city of France."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]
GREEDY = dict(temperature=0.0, seed=1, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.1)


def post(server, path: str, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body))
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_max_completion_tokens_null_leaves_max_tokens(server, client):
    status, body = post(
        server,
        "/v1/chat/completions",
        {"messages": STORY, "max_tokens": 5, "max_completion_tokens": None},
    )
    assert status == 200 and body["usage"]["completion_tokens"] == 5
    assert body["choices"][0]["finish_reason"] == "length"
    reply = client.chat.completions.create(
        model=MODEL, messages=STORY, max_completion_tokens=4, max_tokens=50
    )
    assert reply.usage.completion_tokens == 4  # the newer name wins when it is given


@pytest.mark.parametrize(
    "prompt", ["日本の首都は東京です。東京は", "I love pizza 🍕🍕🍕 and tacos 🌮🌮"]
)
def test_usage_counts_tokens_not_pieces_of_text(client, engine, prompt):
    """A character made of several tokens streams as one piece: usage still counts tokens,
    as llama-cpp-python's own count of the same answer does."""
    own = engine._llm.create_completion(prompt, max_tokens=20, **GREEDY)
    stream = client.completions.create(
        model=MODEL,
        prompt=prompt,
        max_tokens=20,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        pieces += [c.text for c in chunk.choices if c.text]
        usage = chunk.usage or usage
    assert "".join(pieces) == own["choices"][0]["text"]
    assert usage.completion_tokens == own["usage"]["completion_tokens"] >= 20
    assert len(pieces) < usage.completion_tokens  # the case the count used to get wrong
    reply = client.completions.create(model=MODEL, prompt=prompt, max_tokens=20)
    assert reply.usage.completion_tokens == own["usage"]["completion_tokens"]


def test_usage_of_an_answer_ended_by_the_model(client, engine):
    """The token that ends the model's turn is not counted, as OpenAI and llama.cpp do not."""
    own = engine._llm.create_chat_completion(messages=QUESTION, max_tokens=64, **GREEDY)
    assert own["choices"][0]["finish_reason"] == "stop"
    reply = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=64)
    assert reply.choices[0].message.content == own["choices"][0]["message"]["content"]
    assert reply.usage.completion_tokens == own["usage"]["completion_tokens"]


CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 30}, "country": {"type": "string"}},
    "required": ["city", "country"],
}


def test_json_object_answers_are_json(client):
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Describe a cat as a JSON object."}],
        max_tokens=200,
        response_format={"type": "json_object"},
    )
    assert reply.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_json_schema_answers_follow_the_schema(client):
    reply = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=200,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "place", "schema": CITY_SCHEMA},
        },
    )
    answer = json.loads(reply.choices[0].message.content)
    assert sorted(answer) == ["city", "country"] and len(answer["city"]) <= 30
    streamed = client.completions.create(
        model=MODEL,
        prompt="The capital of France is",
        max_tokens=200,
        stream=True,
        extra_body={
            "response_format": {"type": "json_schema", "json_schema": {"schema": CITY_SCHEMA}}
        },
    )
    assert sorted(json.loads("".join(c.choices[0].text for c in streamed if c.choices))) == [
        "city",
        "country",
    ]


def test_the_json_format_travels_to_the_models_own_process(starter_gguf):
    """The GUI and ``hearth serve`` run the model in its host process: the format goes there
    with the rest of the sampling options (as JSON) and is honoured there."""
    from app.core.inference.host.hosted_engine import HostedEngine

    engine = HostedEngine()
    try:
        engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
        parts: list[str] = []
        sampling = SamplingOptions(
            temperature=0.0,
            seed=1,
            max_tokens=200,
            response_format="json_schema",
            json_schema=json.dumps(CITY_SCHEMA),
            logit_bias={"17": -100.0},
        )
        engine.chat(QUESTION, sampling, parts.append)
        assert sorted(json.loads("".join(parts))) == ["city", "country"]
    finally:
        engine.unload()


def test_penalties_change_the_answer(client):
    def story(**penalties) -> str:
        reply = client.chat.completions.create(
            model=MODEL, messages=STORY, max_tokens=40, **penalties
        )
        return reply.choices[0].message.content

    plain = story()
    assert story(frequency_penalty=2.0) != plain
    assert story(presence_penalty=2.0) != plain
    assert story(presence_penalty=0.0, frequency_penalty=0.0) == plain


def test_logit_bias_is_honoured(client, engine):
    (the,) = engine._llm.tokenize(b" the", add_bos=False)
    reply = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=6, logit_bias={str(the): 100}
    )
    assert reply.choices[0].message.content.strip() == " ".join(["the"] * 6)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL, messages=QUESTION, max_tokens=6, logit_bias={"9999999": 5}
        )
    assert "logit_bias" in refused.value.body["message"]


TOOL = {
    "type": "function",
    "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}},
}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"logprobs": True, "top_logprobs": 3}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"tools": [TOOL]}, "tools"),
        ({"tools": [TOOL], "tool_choice": "required"}, "tools"),
        ({"tool_choice": {"type": "function", "function": {"name": "weather"}}}, "tool_choice"),
        ({"functions": [TOOL["function"]]}, "functions"),
        ({"frequency_penalty": 3}, "frequency_penalty"),
        ({"logit_bias": {"abc": 1}}, "logit_bias"),
        ({"logit_bias": {"5": 101}}, "logit_bias"),
        ({"response_format": {"type": "yaml"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, "response_format"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"schema": {"type": "array", "minItems": 10**6}},
                }
            },
            "response_format",
        ),
    ],
)
def test_what_cannot_be_honoured_is_refused_by_name(client, fields, param):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL, messages=QUESTION, max_tokens=4, extra_body=fields
        )
    assert refused.value.status_code == 400
    assert refused.value.body["param"] == param and param in refused.value.body["message"]


def test_a_schema_the_grammar_cannot_follow_is_refused(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            max_tokens=4,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "frobnicate"}},
            },
        )
    assert "response_format" in refused.value.body["message"]


def test_fields_that_change_nothing_are_accepted(client):
    reply = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=4,
        user="someone",
        logprobs=False,
        tool_choice="none",
        response_format={"type": "text"},
    )
    assert reply.choices[0].message.content


@pytest.mark.parametrize("prompt", ["dragon " * 1200, "dragon " * 6000], ids=["tokens", "chars"])
def test_a_completion_prompt_too_long_is_refused_in_openais_words(client, prompt):
    """Clients read the context length from OpenAI's sentence; a raw prompt is no chat."""
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model=MODEL, prompt=prompt, max_tokens=4)
    body = refused.value.body
    assert body["code"] == "context_length_exceeded" and body["param"] == "prompt"
    assert "This model's maximum context length is 1024 tokens." in body["message"]
    assert "chat" not in body["message"] and "prompt" in body["message"]


@pytest.mark.parametrize("question", ["What is 17 times 23?", "How do airplanes fly?"])
def test_the_same_greedy_request_gives_the_same_answer(client, question):
    """The first answer and its repeat (whose prompt the cache already holds) are the same.
    These two questions were answered differently the second time on the starter model."""
    messages = [{"role": "user", "content": question}]

    def answer() -> str:
        reply = client.chat.completions.create(
            model=MODEL, messages=messages, max_tokens=120, temperature=0
        )
        return reply.choices[0].message.content

    client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2)  # another first
    assert answer() == answer() == answer()
