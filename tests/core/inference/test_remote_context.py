"""How servers say a chat is longer than their context (app/core/inference/remote_context.py).

llama-cpp-python's server and Hearth's own are run for real in tests/core/inference/test_remote.py. No
llama.cpp server or Ollama runs here: their refusals below are llama.cpp's server wording
(tools/server), as its users have posted it, with and without the newer numeric fields."""

import pytest

from app.core.common.errors import RemoteContextFull
from app.core.inference.remote_context import ContextEstimate, context_full

LLAMA_CPP_NEW = {
    "error": {
        "code": 400,
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 4476,
        "n_ctx": 4096,
        "message": "request (4476 tokens) exceeds the available context size (4096 tokens)",
    }
}
LLAMA_CPP_OLD = {
    "error": {
        "code": 400,
        "type": "exceed_context_size_error",
        "message": "request (9412 tokens) exceeds the available context size (8192 tokens), try "
        "increasing it",
    }
}
OPENAI = (
    "This model's maximum context length is 128000 tokens. However, your messages "
    "resulted in 130213 tokens. Please reduce the length of the messages."
)


@pytest.mark.parametrize(
    "body, detail, numbers",
    [
        (LLAMA_CPP_NEW, "", (4476, 4096, 4476)),
        (LLAMA_CPP_OLD, LLAMA_CPP_OLD["error"]["message"], (9412, 8192, 9412)),
        (
            {"error": {"message": OPENAI, "code": "context_length_exceeded"}},
            OPENAI,
            (130213, 128000, 130213),
        ),
    ],
)
def test_each_servers_words_give_the_numbers(body, detail, numbers):
    full = context_full(body, detail)
    assert (full.used, full.limit, full.prompt_tokens) == numbers


def test_other_refusals_are_not_taken_for_a_full_context():
    body = {"error": {"message": "temperature must be at most 2", "type": "invalid_request"}}
    assert context_full(body, body["error"]["message"]) is None
    assert context_full(None, "Bad Request") is None


def test_the_estimate_drops_the_oldest_turns_by_the_servers_count():
    chat = (
        [{"role": "system", "content": "Be brief."}]
        + [{"role": "user" if i % 2 == 0 else "assistant", "content": "x" * 984} for i in range(6)]
        + [{"role": "user", "content": "And now?"}]
    )
    estimate = ContextEstimate()
    assert estimate.fit(chat, 100) == chat  # nothing refused yet
    estimate.learn(chat, RemoteContextFull(3100, 2048, 3000))  # ~0.5 tokens a character
    fitted = estimate.fit(chat, 100)
    assert fitted[0] == chat[0] and fitted[-1] == chat[-1]  # the system prompt and the question
    assert fitted[1:] == chat[-len(fitted) + 1 :]  # only the oldest turns went
    # 1,000 characters a turn at ~0.5 tokens each: three turns and the question fit in 90 % of
    # 2,048 tokens less 100 for the answer; a fourth would not.
    assert len(fitted) == 5
    assert estimate.tokens(fitted) + 100 <= 2048 * 0.9
    assert estimate.tokens([chat[0], chat[3], *fitted[1:]]) + 100 > 2048 * 0.9
