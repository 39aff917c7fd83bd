"""Pictures damaged inside their compressed data never reach ffmpeg: llama.cpp gets pixels.

llama.cpp's mtmd, handed an image's bytes it cannot read, tries them as audio and then as video
by starting ``ffprobe`` and ``ffmpeg`` from ``PATH``. A PNG, JPEG, GIF or BMP damaged inside its
compressed data (``image_forge.inner_damaged``: its chunk checksums made right, its structure
whole) passes the header check, so Hearth decodes every image with Pillow and gives mtmd only
pixels (``app.core.inference.image_pixels``). Here a fake ``ffprobe`` and ``ffmpeg`` that leave a
marker file when run come first on ``PATH`` for the real model host (``HostedEngine``, the zoo's
vision pair: real llama.cpp, a real ``clip`` projector), and Hypothesis damages real pictures;
each one goes through the real API server over loopback and straight to the engine. For every
draw: the marker never appears, an answer or a one-sentence refusal (the API's 400
``invalid_image_url``) arrives, and the same host process answers after. A control shows the
fake is found: mtmd's own reader, given one of these pictures in this process, runs it. Each
draw counts as one injected fault in the faults summary line.

``HEARTH_FUZZ_EXAMPLES`` raises the number of draws for a longer local run.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given

from app.bench.zoo.vision import IMAGE_TOKENS, VisionPair, vision_pair
from app.core.common.errors import UnreadableImage
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.image_header import picture_problem
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.server.server import ApiServer
from tests.faults.fuzzing import examples, fuzzed
from tests.faults.image_forge import DETAILED, inner_damaged, inner_damaged_pictures
from tests.faults.tally import CrashDetected, Tally
from tests.faults.test_image_api_faults import assert_one_sentence, assert_openai_refusal, post
from tests.support.api_server import serving

pytestmark = pytest.mark.faults

EXAMPLES = examples(60)
QUESTION = "What is in this picture?"
SAMPLING = SamplingOptions(temperature=0.0, max_tokens=2, seed=1)
# A PNG whose first compressed bytes are overwritten, its checksum made right: mtmd's own
# reader fails on it and runs ffprobe (measured on llama-cpp-python 0.3.36).
BROKEN_PNG = ("png", [("bytes", 5, b"\xff" * 10)])


@pytest.fixture(scope="module")
def pair(starter_gguf: Path) -> VisionPair:
    from tests.conftest import cache_root

    return vision_pair(starter_gguf, cache_root() / "zoo")


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The file a fake ``ffprobe`` or ``ffmpeg`` writes when run; both come first on ``PATH``
    for this module (the model host inherits it)."""
    folder = tmp_path_factory.mktemp("fake-ffmpeg")
    marker = folder / "ran"
    for name in ("ffprobe", "ffmpeg"):
        fake = folder / name
        fake.write_text(f'#!/bin/sh\necho "{name} $*" >> "{marker}"\nexit 1\n')
        fake.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
        assert shutil.which("ffprobe") == str(folder / "ffprobe")
        yield marker


@pytest.fixture(scope="module")
def hosted(pair: VisionPair, marker: Path) -> Iterator[HostedEngine]:
    engine = HostedEngine()
    engine.load(pair.model, LoadOptions(n_ctx=512, n_threads=1, mmproj_path=str(pair.mmproj)))
    yield engine
    engine.unload()


@pytest.fixture(scope="module")
def server(hosted: HostedEngine) -> Iterator[ApiServer]:
    with serving(hosted, defaults=SAMPLING) as server:
        yield server


def data_url(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def asking(*urls: str) -> list[dict]:
    parts: list[dict] = [{"type": "text", "text": QUESTION}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return [{"role": "user", "content": parts}]


def assert_not_run(marker: Path) -> None:
    if marker.exists():
        raise CrashDetected(f"llama.cpp ran ffmpeg on an image: {marker.read_text()[:200]!r}")


def assert_same_host(engine: HostedEngine, pid: int | None) -> None:
    if pid is None or engine.host_pid != pid:
        raise CrashDetected(f"the model host died: it was {pid}, it is {engine.host_pid}")


def test_the_fake_ffprobe_is_what_mtmds_own_reader_runs(pair: VisionPair, marker: Path) -> None:
    """The control: in this process, with the same ``PATH``, mtmd's own reader (the handler's
    original ``_create_bitmap_from_bytes``) given a damaged PNG that passes the header check
    runs the fake, so the tests below would see it if Hearth's handler let one through."""
    import llama_cpp
    from llama_cpp import llama_chat_format

    from app.core.compat.llama_cpp import attach_projector
    from app.core.inference.image_pixels import rgb_pixels

    broken = inner_damaged(*BROKEN_PNG)
    assert picture_problem(broken) is None
    model = llama_cpp.Llama(model_path=str(pair.model), n_ctx=256, verbose=True)
    try:
        attach_projector(model, str(pair.mmproj), rgb_pixels)
        with pytest.raises(ValueError):
            llama_chat_format.MTMDChatHandler._create_bitmap_from_bytes(model.chat_handler, broken)
    finally:
        model.close()
    assert marker.read_text().startswith("ffprobe ")
    marker.unlink()


def test_good_pictures_take_the_projectors_tokens(server, hosted, marker) -> None:
    """Each kind of picture, whole, is answered, its image taking the projector's tokens."""
    _, alone = post(server, "/v1/chat/completions", {"model": "any", "messages": asking()})
    for kind, data in sorted(DETAILED.items()):
        body = {"model": "any", "messages": asking(data_url(kind, data))}
        status, answer = post(server, "/v1/chat/completions", body)
        assert status == 200, (kind, answer)
        assert answer["choices"][0]["message"]["content"] is not None
        expected = alone["usage"]["prompt_tokens"] + IMAGE_TOKENS
        assert answer["usage"]["prompt_tokens"] == expected, kind
    assert_not_run(marker)


def test_pictures_damaged_inside_reach_no_ffmpeg_through_the_api(
    server, hosted, marker, faults: Tally
):
    pid = hosted.host_pid
    outcomes: set[str] = set()

    @fuzzed(EXAMPLES)
    @given(picture=inner_damaged_pictures)
    def one_case(picture: tuple[str, list[tuple]]) -> None:
        data = inner_damaged(*picture)
        body = {"model": "any", "messages": asking(data_url(picture[0], data))}
        with faults.inject(f"image_url damaged inside: {picture}"):
            status, answer = post(server, "/v1/chat/completions", body)
            if status == 200:  # the damage left a picture Pillow decodes
                assert answer["choices"] and answer["usage"]["prompt_tokens"] > 0
            else:
                assert_openai_refusal(status, answer)
                assert answer["error"]["code"] == "invalid_image_url", answer
            outcomes.add("answered" if status == 200 else "refused")
            assert_not_run(marker)
            assert_same_host(hosted, pid)

    one_case()
    assert outcomes == {"answered", "refused"}  # both ways were taken
    status, _ = post(server, "/v1/chat/completions", {"model": "any", "messages": asking()})
    assert status == 200


def test_pictures_damaged_inside_reach_no_ffmpeg_through_the_engine(hosted, marker, faults: Tally):
    pid = hosted.host_pid

    @fuzzed(max(EXAMPLES // 2, 5))
    @given(picture=inner_damaged_pictures)
    def one_case(picture: tuple[str, list[tuple]]) -> None:
        data = inner_damaged(*picture)
        pieces: list[str] = []
        with faults.inject(f"engine chat, image damaged inside: {picture}"):
            try:
                stats = hosted.chat(asking(data_url(picture[0], data)), SAMPLING, pieces.append)
            except UnreadableImage as exc:
                assert_one_sentence(str(exc))
            else:
                assert stats.prompt_tokens > 0
            assert_not_run(marker)
            assert_same_host(hosted, pid)

    one_case()
    pieces: list[str] = []
    hosted.chat(asking(), SAMPLING, pieces.append)
    assert_same_host(hosted, pid)


def test_ollamas_images_damaged_inside_get_one_sentence(server, hosted, marker, faults: Tally):
    """Ollama's ``images`` (bare base64) go the same way: the one sentence, in Ollama's shape."""
    pid = hosted.host_pid
    for picture in (BROKEN_PNG, ("gif", [("bytes", 40, b"\xff" * 12)])):
        encoded = base64.b64encode(inner_damaged(*picture)).decode()
        message = {"role": "user", "content": QUESTION, "images": [encoded]}
        body = {"model": hosted.loaded.path.stem, "stream": False, "messages": [message]}
        with faults.inject(f"Ollama images damaged inside: {picture}"):
            status, answer = post(server, "/api/chat", body)
            assert status == 400, answer
            assert answer["error"] == (
                "An image could not be decoded: its data is not a whole PNG, JPEG, GIF or BMP "
                "picture."
            )
            assert_not_run(marker)
            assert_same_host(hosted, pid)
