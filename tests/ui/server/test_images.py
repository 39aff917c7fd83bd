"""Images through the studio's API server, which answers with the Chat's own loaded model: a
vision model loaded with its projector takes an ``image_url`` part; the starter model (text
only) refuses one before it waits for the chat.

The vision model is the zoo's random-weight pair (``app.bench.zoo.vision``): its words are not
judged, only that the image's tokens are in the prompt and that an answer came.
"""

from __future__ import annotations

import base64

import openai
import pytest

from app.bench.zoo.vision import IMAGE_TOKENS, sample_png, vision_pair
from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.core.inference.types import LoadOptions
from app.ui.server.panel import ServerPanel
from app.ui.session.session import ChatSession
from tests.ui.server.test_panel import MS, finish, free_port, in_thread

IMAGE = {
    "type": "image_url",
    "image_url": {"url": "data:image/png;base64," + base64.b64encode(sample_png()).decode()},
}
QUESTION = {"type": "text", "text": "What is in this picture?"}


def serving(qtbot, session) -> ServerPanel:
    panel = ServerPanel(
        session,
        Settings(sampling=Sampling(temperature=0.0, seed=1, max_tokens=4)),
        port=free_port(),
    )
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.serving_changed, timeout=5000):
        panel.toggle.setChecked(True)
    return panel


def ask(panel, *parts):
    with openai.OpenAI(base_url=panel.server.url, api_key="x", max_retries=0, timeout=60) as c:
        return c.chat.completions.create(
            model="any", max_tokens=4, messages=[{"role": "user", "content": list(parts)}]
        )


@pytest.fixture
def vision_session(qtbot, starter_gguf):
    from tests.conftest import cache_root

    pair = vision_pair(starter_gguf, cache_root() / "zoo")
    session = ChatSession()
    with qtbot.waitSignal(session.loaded, timeout=MS):
        session.load(pair.model, LoadOptions(n_ctx=512, n_threads=1, mmproj_path=str(pair.mmproj)))
    yield session
    session.shutdown()


def test_the_chats_vision_model_answers_an_image_over_the_api(qtbot, vision_session):
    panel = serving(qtbot, vision_session)
    try:
        alone = finish(qtbot, *in_thread(qtbot, lambda: ask(panel, QUESTION)))
        seen = finish(qtbot, *in_thread(qtbot, lambda: ask(panel, QUESTION, IMAGE)))
        assert seen.usage.prompt_tokens == alone.usage.prompt_tokens + IMAGE_TOKENS
        assert seen.usage.completion_tokens > 0
    finally:
        panel.shutdown()


def test_a_text_model_in_the_chat_refuses_an_image_over_the_api(qtbot, starter_gguf):
    session = ChatSession()
    with qtbot.waitSignal(session.loaded, timeout=MS):
        session.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    panel = serving(qtbot, session)
    try:
        with pytest.raises(openai.BadRequestError) as refused:
            finish(qtbot, *in_thread(qtbot, lambda: ask(panel, QUESTION, IMAGE)))
        assert refused.value.body["message"].startswith("This model reads text only")
        # The server's own check, before the request waits its turn (the engine's would
        # answer "cannot see images" only once the chat had let it in).
        assert refused.value.body["code"] == "image_input_unsupported"
    finally:
        panel.shutdown()
        session.shutdown()
