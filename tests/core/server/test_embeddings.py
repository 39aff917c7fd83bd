"""``/v1/embeddings`` with the loaded model, asked by the official ``openai`` client and raw
HTTP, the model in this process and in its own (as ``hearth serve`` runs it)."""

import http.client
import json
import math

import pytest

from app.core.inference.engine import Engine
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.types import LoadOptions

MODEL = "SmolLM2-135M-Instruct.Q4_1"
TEXTS = ["The cat sat on the mat.", "Stock prices fell sharply today.", "猫がマットの上に座った。"]


@pytest.fixture(scope="module", params=["in process", "in its host process"])
def engine(request, starter_gguf):
    engine = Engine() if request.param == "in process" else HostedEngine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    yield engine
    engine.unload()


def post(server, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", "/v1/embeddings", body=json.dumps(body))
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_texts_are_embedded(client, server):
    reply = client.embeddings.create(model=MODEL, input=TEXTS)  # base64, decoded by the client
    vectors = [d.embedding for d in reply.data]
    assert [d.index for d in reply.data] == [0, 1, 2] and reply.model == MODEL
    assert {len(v) for v in vectors} == {576}
    assert all(abs(math.hypot(*v) - 1) < 1e-3 for v in vectors)  # normalised
    assert vectors[0] != vectors[1] != vectors[2]
    assert reply.usage.prompt_tokens > len(TEXTS)
    status, body = post(server, {"input": TEXTS[0], "encoding_format": "float"})
    assert status == 200
    assert body["data"][0]["embedding"] == pytest.approx(vectors[0], abs=1e-6)
    alone = client.embeddings.create(model=MODEL, input=TEXTS[0]).data[0].embedding
    assert alone == pytest.approx(vectors[0], abs=1e-5)  # alone as in a batch


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [[1, 2, 3]]}, "input"),
        ({"input": []}, "input"),
        ({"input": [""]}, "input"),
        ({"input": "x", "dimensions": 64}, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "word " * 3000}, "input"),
    ],
)
def test_what_cannot_be_embedded_is_refused_by_name(server, body, param):
    status, answer = post(server, body)
    assert status == 400 and answer["error"]["param"] == param, answer
