"""Hostile images sent to the API server: OpenAI ``image_url`` parts and Ollama's ``images``.

The real server (``ApiServer`` over a ``GenerationQueue``) on 127.0.0.1, over the zoo's vision
pair (a random-weight text model and a real ``clip`` projector llama.cpp loads) in this
process. Hypothesis draws a data URL (its type, its encoding, its base64 mangled or not) around
a picture damaged by ``image_forge`` (cut, overwritten, a forged size, noise, text), or a link.
For every draw: the answer is a 200 with an answer, or a 4xx with an error in OpenAI's shape
(Ollama's for ``/api``) whose message is one sentence; never a 5xx, never a dropped connection;
an image refused as it comes in never reaches the model (one whose header is whole
may still be refused by the model's decoder); a link is never fetched; the server answers after.
Each draw counts as one injected fault in the faults summary line.

``HEARTH_FUZZ_EXAMPLES`` raises the number of draws for a longer local run.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.bench.zoo.vision import vision_pair
from app.core.inference.engine import Engine
from app.core.inference.image_header import MAX_PIXELS
from app.core.inference.images import image_problem
from app.core.inference.types import LoadOptions
from app.core.server.server import MAX_BODY_BYTES, ApiServer
from tests.faults.fuzzing import examples, fuzzed
from tests.faults.image_forge import PNG, bomb_png, damaged, damaged_pictures
from tests.faults.tally import CrashDetected, Tally
from tests.faults.test_server_faults import exchange, status_of
from tests.support.api_server import serving
from tests.support.picture_host import PictureHost, picture_host

pytestmark = pytest.mark.faults

EXAMPLES = examples(60)
QUESTION = "What is in this picture?"


@pytest.fixture(scope="module")
def engine(starter_gguf: Path) -> Iterator[Engine]:
    from tests.conftest import cache_root

    pair = vision_pair(starter_gguf, cache_root() / "zoo")
    engine = Engine()
    engine.load(pair.model, LoadOptions(n_ctx=512, n_threads=1, mmproj_path=str(pair.mmproj)))
    yield engine
    engine.unload()


@pytest.fixture
def given_to_model(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The images of each chat the real engine was given."""
    from app.core.inference.images import image_urls

    given: list[list[str]] = []
    chat = engine.chat

    def counting_chat(messages, *args, **kwargs):
        given.append(image_urls(messages))
        return chat(messages, *args, **kwargs)

    monkeypatch.setattr(engine, "chat", counting_chat)
    return given


@pytest.fixture
def server(engine: Engine, given_to_model) -> Iterator[ApiServer]:
    with serving(engine) as server:
        yield server


@pytest.fixture
def pictures() -> Iterator[PictureHost]:
    with picture_host(PNG) as host:
        yield host


def post(server: ApiServer, path: str, body: dict | bytes) -> tuple[int, dict]:
    """The status and JSON body of a POST; a dropped connection or a body that is not JSON
    is a crash."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        connection.request("POST", path, data, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        raw = answer.read()
    except (OSError, http.client.HTTPException) as exc:
        raise CrashDetected(f"the connection failed: {exc!r}") from exc
    finally:
        connection.close()
    if answer.status >= 500:
        raise CrashDetected(f"the server failed on it: {answer.status} {raw[:300]!r}")
    try:
        return answer.status, json.loads(raw)
    except ValueError as exc:
        raise CrashDetected(f"the answer is not JSON: {raw[:300]!r}") from exc


def post_bytes(body: bytes) -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body


def assert_one_sentence(message: object) -> None:
    assert isinstance(message, str) and message.strip(), message
    assert "\n" not in message and "Traceback" not in message, message
    assert message.rstrip().endswith((".", ")")), message
    assert len(message) < 400, message


def assert_openai_refusal(status: int, body: dict) -> None:
    assert 400 <= status < 500, (status, body)
    error = body["error"]
    assert error["type"] == "invalid_request_error", error
    assert set(error) >= {"message", "type", "code", "param"}, error
    assert_one_sentence(error["message"])


def assert_serving(server: ApiServer) -> None:
    status, body = post(
        server,
        "/v1/chat/completions",
        {"model": "any", "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]},
    )
    if status != 200 or not body["choices"]:
        raise CrashDetected(f"the server stopped answering: {status} {body}")


# -- what a client may put in an image_url ---------------------------------------------------

MIMES = ["image/png", "image/jpeg", "image/webp", "IMAGE/PNG", "text/plain", "", "application/pdf"]
ENCODINGS = [";base64", "", ";charset=utf-8;base64", ";BASE64"]


def mangled(encoded: str, how: str) -> str:
    if how == "junk":
        return encoded[: len(encoded) // 2] + "@!" + encoded[len(encoded) // 2 :]
    if how == "unpadded":
        return encoded.rstrip("=")
    if how == "spaces":
        return " ".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
    if how == "urlsafe":
        return encoded.replace("+", "-").replace("/", "_")
    return encoded


image_urls = st.one_of(
    st.builds(
        lambda picture, mime, encoding, how: (
            f"data:{mime}{encoding}," + mangled(base64.b64encode(damaged(*picture)).decode(), how)
        ),
        damaged_pictures,
        st.sampled_from(MIMES),
        st.sampled_from(ENCODINGS),
        st.sampled_from(["none", "none", "junk", "unpadded", "spaces", "urlsafe"]),
    ),
    st.sampled_from(["LINK", "file:///etc/hostname", "ftp://127.0.0.1/x.png", "//x/y.png", ""]),
)


def test_hostile_image_urls_are_refused_in_one_sentence_never_fetched(
    server, pictures, given_to_model, faults: Tally
):
    @fuzzed(EXAMPLES)
    @given(url=image_urls)
    def one_case(url: str) -> None:
        url = pictures.url if url == "LINK" else url
        given_to_model.clear()
        parts = [
            {"type": "text", "text": QUESTION},
            {"type": "image_url", "image_url": {"url": url}},
        ]
        body = {"model": "any", "max_tokens": 2, "messages": [{"role": "user", "content": parts}]}
        with faults.inject(f"image_url {url[:60]!r}... ({len(url)} characters)"):
            status, answer = post(server, "/v1/chat/completions", body)
            if status == 200:  # a picture the damage left readable, answered
                assert url.lower().startswith("data:image/"), "a URL of no image was taken"
                assert answer["choices"] and answer["usage"]["prompt_tokens"] > 0
                assert given_to_model and given_to_model[-1] == [url]
            else:
                assert_openai_refusal(status, answer)
                # Refused as it came in (llama.cpp, given bytes that are no picture, tries
                # them as audio, then as video with ffprobe), or, its header whole, by the
                # model's decoder (test_image_pixel_faults)
                assert answer["error"]["code"] == "invalid_image_url", answer
                assert given_to_model == [] or image_problem(url) is None, (
                    "a refused image reached the model"
                )
            assert pictures.hits == 0, "a link was fetched"

    one_case()
    assert_serving(server)


def test_ollamas_hostile_images_are_refused_in_one_sentence(server, engine, given_to_model, faults):
    @fuzzed(max(EXAMPLES // 2, 5))
    @given(picture=damaged_pictures, how=st.sampled_from(["none", "junk", "unpadded"]))
    def one_case(picture: tuple[str, list[tuple]], how: str) -> None:
        encoded = mangled(base64.b64encode(damaged(*picture)).decode(), how)
        given_to_model.clear()
        message = {"role": "user", "content": QUESTION, "images": [encoded]}
        body = {"model": engine.loaded.path.stem, "stream": False, "messages": [message],
                "options": {"num_predict": 2}}  # fmt: skip
        with faults.inject(f"Ollama images: {picture}, base64 {how}"):
            status, answer = post(server, "/api/chat", body)
            if status == 200:
                assert answer["message"]["role"] == "assistant" and answer["done"]
            else:
                assert 400 <= status < 500, (status, answer)
                assert_one_sentence(answer["error"])
                if given_to_model:  # its header whole: refused by the model's decoder
                    assert image_problem(given_to_model[-1][0]) is None, answer
                else:
                    assert "images" in answer["error"], answer  # Ollama's field is named

    one_case()
    assert_serving(server)


@pytest.mark.parametrize(
    "case",
    ["bomb of 20,000 x 20,000 pixels", "bomb of 100,000 x 100,000 pixels", "body past the limit"],
)
def test_huge_images_are_refused_before_the_model_decodes_them(
    server, given_to_model, faults, case
):
    """A PNG that says it is huge is refused from its header, before llama.cpp reads it; a
    body past the server's limit gets its 413."""
    if case == "body past the limit":
        payload = base64.b64encode(os.urandom(MAX_BODY_BYTES)).decode()
    else:
        side = 20_000 if "20,000" in case else 100_000  # its rows cut: only the header counts
        payload = base64.b64encode(bomb_png(side, side, rows=4)).decode()
    url = "data:image/png;base64," + payload
    parts = [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": url}}]
    body = {"model": "any", "max_tokens": 2, "messages": [{"role": "user", "content": parts}]}
    with faults.inject(f"image_url: {case}"):
        if case == "body past the limit":  # refused and closed before all of it is read
            answer = exchange(server, post_bytes(json.dumps(body).encode()))
            assert status_of(answer) == 413, answer[:300]
            assert_one_sentence(json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["message"])
        else:
            status, refused = post(server, "/v1/chat/completions", body)
            assert_openai_refusal(status, refused)
            assert f"{MAX_PIXELS // 1_000_000} megapixels" in refused["error"]["message"]
        assert given_to_model == []
    assert_serving(server)
