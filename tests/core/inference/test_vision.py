"""Images in chat: a model loaded with its image projector answers a message holding an image,
in this process (``Engine``) and through the model's host process (``HostedEngine``).

The pair is the zoo's generated vision model (``app.bench.zoo.vision``: random weights, a
real llama.cpp text model and a real ``clip`` projector that llama.cpp's mtmd loads), as no
vision model small enough for CI is shipped on PyPI. Its answers are meaningless words: these
tests check that each image was encoded to the projector's tokens and that an answer streamed,
never what the answer says.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from app.bench.zoo import SIZES
from app.bench.zoo.vision import (
    IMAGE_TOKENS,
    VisionPair,
    sample_png,
    vision_pair,
    write_projector,
)
from app.core.common.errors import (
    ContextFullError,
    ModelCrashed,
    ModelFileError,
    ModelLoadError,
    UnsupportedRequest,
)
from app.core.inference.engine import Engine
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.images import image_part
from app.core.inference.types import AUTO_LAYERS, LoadOptions, SamplingOptions

GREEDY = SamplingOptions(temperature=0.0, max_tokens=8, seed=1)
PNG_URL = "data:image/png;base64," + base64.b64encode(sample_png()).decode()


@pytest.fixture(scope="module")
def pair(starter_gguf: Path) -> VisionPair:
    from tests.conftest import cache_root

    return vision_pair(starter_gguf, cache_root() / "zoo")


def ask(*images: str) -> list[dict[str, Any]]:
    """A user message: a question, then each image."""
    parts = [{"type": "text", "text": "What is in this picture?"}]
    return [{"role": "user", "content": parts + [image_part(url) for url in images]}]


def prompt_and_answer(engine: Engine | HostedEngine, messages: list[dict[str, Any]]):
    pieces: list[str] = []
    stats = engine.chat(messages, GREEDY, pieces.append)
    return stats.prompt_tokens, stats.tokens, "".join(pieces)


@pytest.mark.parametrize("where", ["engine", "host"])
def test_each_image_is_encoded_to_the_projectors_tokens_and_answered(pair, where):
    engine = Engine() if where == "engine" else HostedEngine()
    loaded = engine.load(pair.model, LoadOptions(n_ctx=512, mmproj_path=str(pair.mmproj)))
    try:
        assert loaded.has_vision
        text_only, _, _ = prompt_and_answer(engine, ask())
        one, tokens, answer = prompt_and_answer(engine, ask(PNG_URL))
        two, _, _ = prompt_and_answer(engine, ask(PNG_URL, PNG_URL))
        # The image takes the place of mtmd's marker in the text: each adds its patches.
        assert one - text_only == IMAGE_TOKENS
        assert two - text_only == 2 * IMAGE_TOKENS
        assert tokens > 0 and answer  # streamed; its words are random-weight noise
        # Counted before the chat (the chat's context check, the UI's fit): the same tokens.
        assert engine.count_tokens(ask(PNG_URL, PNG_URL)) == two
    finally:
        engine.unload()


@pytest.mark.parametrize("where", ["engine", "host"])
def test_a_model_without_its_projector_says_so_and_goes_on(pair, where):
    engine = Engine() if where == "engine" else HostedEngine()
    loaded = engine.load(pair.model, LoadOptions(n_ctx=512))
    try:
        assert not loaded.has_vision
        with pytest.raises(UnsupportedRequest, match="cannot see images"):
            engine.chat(ask(PNG_URL), GREEDY, lambda _: None)
        _, tokens, _ = prompt_and_answer(engine, [{"role": "user", "content": "Hello"}])
        assert tokens > 0
    finally:
        engine.unload()


@pytest.mark.parametrize(
    "url",
    ["https://example.com/cat.png", "file:///etc/passwd", "data:image/png;base64,@@not base64@@"],
)
def test_only_an_image_given_as_data_is_taken(pair, url):
    engine = Engine()
    engine.load(pair.model, LoadOptions(n_ctx=512, mmproj_path=str(pair.mmproj)))
    try:
        with pytest.raises(UnsupportedRequest):
            engine.chat(ask(url), GREEDY, lambda _: None)
        assert prompt_and_answer(engine, ask(PNG_URL))[1] > 0
    finally:
        engine.unload()


def test_a_chat_whose_images_pass_the_context_is_refused_before_it_starts(pair):
    engine = Engine()
    engine.load(pair.model, LoadOptions(n_ctx=256, mmproj_path=str(pair.mmproj)))
    try:
        assert engine.count_tokens(ask(PNG_URL)) + 8 <= 256  # one image fits
        with pytest.raises(ContextFullError):  # 16 images take 256 tokens, the text more
            engine.chat(ask(*[PNG_URL] * 16), GREEDY, lambda _: None)
        assert prompt_and_answer(engine, ask(PNG_URL))[1] > 0
    finally:
        engine.unload()


def test_an_image_that_is_no_picture_is_refused_in_one_sentence(pair):
    engine = Engine()
    engine.load(pair.model, LoadOptions(n_ctx=512, mmproj_path=str(pair.mmproj)))
    try:
        junk = "data:image/png;base64," + base64.b64encode(b"not a picture").decode()
        # Refused before llama.cpp, which would try the bytes as audio, then video (ffprobe)
        with pytest.raises(UnsupportedRequest, match="not a PNG, JPEG, GIF or BMP picture"):
            engine.chat(ask(junk), GREEDY, lambda _: None)
    finally:
        engine.unload()


def test_a_damaged_projector_fails_the_load_in_one_sentence(pair, tmp_path):
    damaged = tmp_path / "mmproj-damaged.gguf"
    damaged.write_bytes(pair.mmproj.read_bytes()[:4096])
    engine = Engine()
    with pytest.raises((ModelFileError, ModelLoadError)) as caught:
        engine.load(pair.model, LoadOptions(n_ctx=512, mmproj_path=str(damaged)))
    assert "mmproj-damaged.gguf" in str(caught.value)
    assert engine.loaded is None


def test_a_projector_that_crashes_llama_cpp_is_named_not_the_model(pair, tmp_path):
    """A projector without its last layer passes the header check and then crashes llama.cpp's
    mtmd loader (a segfault in 0.3.36): the model's host dies, and the sentence blames the
    projector, so the user is not told to replace a good model file."""
    broken = write_projector(
        tmp_path / "mmproj-broken.gguf", SIZES["tiny"].n_embd, omit=("mm.2.weight",)
    )
    engine = HostedEngine()
    try:
        with pytest.raises(ModelCrashed) as caught:
            engine.load(pair.model, LoadOptions(n_ctx=512, mmproj_path=str(broken)))
        said = str(caught.value)
        assert said.startswith("The image projector mmproj-broken.gguf could not be loaded")
        assert "load the model without it" in said
        assert engine.loaded is None
        loaded = engine.load(pair.model, LoadOptions(n_ctx=512))  # and the model alone loads
        assert not loaded.has_vision
    finally:
        engine.unload()


def test_gpu_layers_chosen_by_the_fit_estimate_load_the_pair(pair):
    """The estimate counts the projector's bytes beside the model's (``projector_bytes``; the
    arithmetic is in tests/core/fit/test_estimate.py); on any machine the pair then loads."""
    engine = Engine()
    options = LoadOptions(n_ctx=512, n_gpu_layers=AUTO_LAYERS, mmproj_path=str(pair.mmproj))
    try:
        loaded = engine.load(pair.model, options)
        assert loaded.has_vision and loaded.fit_verdict
        assert prompt_and_answer(engine, ask(PNG_URL))[1] > 0
    finally:
        engine.unload()


def test_a_template_that_takes_no_image_parts_is_said_in_one_sentence(pair, zoo_model_file):
    """The zoo's plain llama model has the starter's template (``content`` added to text)
    and the projector's width: it loads with the projector, then cannot render an image."""
    engine = Engine()
    engine.load(
        zoo_model_file("llama", "F16"), LoadOptions(n_ctx=512, mmproj_path=str(pair.mmproj))
    )
    try:
        with pytest.raises(UnsupportedRequest, match="chat template cannot take images"):
            engine.chat(ask(PNG_URL), GREEDY, lambda _: None)
        assert prompt_and_answer(engine, [{"role": "user", "content": "Hello"}])[1] > 0
    finally:
        engine.unload()
