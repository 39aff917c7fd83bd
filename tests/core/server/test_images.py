"""Images through the API server: OpenAI ``image_url`` parts (data URLs) and Ollama's ``images``,
sent by the official clients to the real server over a model loaded with its image projector.

The model is the zoo's generated vision pair (``app.bench.zoo.vision``: a random-weight text
model and a real ``clip`` projector that llama.cpp's mtmd loads), as no vision model small
enough for CI is shipped on PyPI. Its answers are meaningless words: these tests check that the
image was encoded (the prompt's tokens grow by the projector's tokens for it) and that an
answer came, never what the answer says.
"""

from __future__ import annotations

import base64
from pathlib import Path

import ollama
import openai
import pytest

from app.bench.zoo.vision import IMAGE_TOKENS, VisionPair, sample_png, vision_pair
from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions
from tests.support.picture_host import picture_host

PNG = sample_png()
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
QUESTION = "What is in this picture?"


@pytest.fixture(scope="module")
def pair(starter_gguf: Path) -> VisionPair:
    from tests.conftest import cache_root

    return vision_pair(starter_gguf, cache_root() / "zoo")


@pytest.fixture(scope="module")
def vision_engine(pair):
    engine = Engine()
    engine.load(pair.model, LoadOptions(n_ctx=512, n_threads=1, mmproj_path=str(pair.mmproj)))
    yield engine
    engine.unload()


@pytest.fixture
def vision(serve, vision_engine):
    """The server over the vision pair, and the OpenAI client pointed at it."""
    server = serve(backend=vision_engine)
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=60)
    yield server, client
    client.close()


def asking(*urls: str) -> list[dict]:
    parts = [{"type": "text", "text": QUESTION}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return [{"role": "user", "content": parts}]


def test_an_image_is_encoded_and_answered_whole_and_streamed(vision):
    server, client = vision
    model = client.models.list().data[0].id
    text_alone = client.chat.completions.create(
        model=model, max_tokens=4, messages=[{"role": "user", "content": QUESTION}]
    )
    answer = client.chat.completions.create(model=model, max_tokens=8, messages=asking(PNG_URL))
    # The image took the projector's tokens in the prompt: the text alone has that many fewer.
    assert answer.usage.prompt_tokens == text_alone.usage.prompt_tokens + IMAGE_TOKENS
    assert answer.choices[0].message.content  # random-weight words: not judged
    assert answer.usage.completion_tokens > 0

    stream = client.chat.completions.create(
        model=model,
        max_tokens=8,
        messages=asking(PNG_URL, PNG_URL),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == text_alone.usage.prompt_tokens + 2 * IMAGE_TOKENS


def test_a_model_loaded_without_its_projector_reads_text_only(client):
    """The starter model, loaded with no projector: the image is refused before it waits for
    the model, in OpenAI's error shape; a text question is still answered."""
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="any", max_tokens=4, messages=asking(PNG_URL))
    error = refused.value.body
    assert refused.value.status_code == 400
    assert error["code"] == "image_input_unsupported" and error["type"] == "invalid_request_error"
    assert error["message"].startswith("This model reads text only")
    answer = client.chat.completions.create(
        model="any", max_tokens=4, messages=[{"role": "user", "content": QUESTION}]
    )
    assert answer.usage.completion_tokens > 0


def test_a_link_is_refused_and_never_fetched(vision):
    server, client = vision
    with picture_host(PNG) as host:
        for url in (host.url, "file:///etc/hostname", "data:image/png;base64,@@not base64@@"):
            with pytest.raises(openai.BadRequestError) as refused:
                client.chat.completions.create(model="any", max_tokens=4, messages=asking(url))
            assert refused.value.body["code"] == "invalid_image_url"
            assert refused.value.body["param"] == "messages[0].content"
        assert "data URL" in str(refused.value) or "base64" in str(refused.value)
        assert host.hits == 0


def test_ollamas_images_are_read_as_openais(vision):
    server, _ = vision
    client = ollama.Client(host=f"http://127.0.0.1:{server.port}", timeout=60)
    try:
        name = client.list().models[0].model
        assert "vision" in client.show(name).capabilities
        options = {"num_predict": 4, "temperature": 0}
        alone = client.chat(model=name, messages=[{"role": "user", "content": QUESTION}],
                            options=options)  # fmt: skip
        seen = client.chat(
            model=name,
            messages=[{"role": "user", "content": QUESTION, "images": [PNG]}],
            options=options,
        )
        assert seen.prompt_eval_count == alone.prompt_eval_count + IMAGE_TOKENS
        assert seen.eval_count > 0  # its words are random-weight noise
        generated = client.generate(model=name, prompt=QUESTION, images=[PNG], options=options)
        assert generated.prompt_eval_count == alone.prompt_eval_count + IMAGE_TOKENS
        with pytest.raises(ollama.ResponseError) as refused:
            client.generate(model=name, prompt=QUESTION, images=[PNG], raw=True)
        assert refused.value.status_code == 400 and "images" in refused.value.error
    finally:
        client._client.close()
