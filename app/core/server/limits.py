"""Requests far too large for the model's context, refused before they wait for the model.

Counting a chat's tokens means applying the chat template and tokenizing, which takes time
that grows faster than the number of messages (measured on the starter model: 1,000 tiny
messages 0.3 s, 5,000 about 3 s, 20,000 about 28 s), and it runs on the one generation thread,
holding every other client and the GUI's chat. So before a request joins the queue, its size
is checked against bounds no request that fits could exceed: every message costs a few
tokens of the template's markers, and no token spans more than a few dozen characters.
"""

from __future__ import annotations

from app.core.inference import images
from app.core.server.errors import ApiError
from app.core.server.schema import GenerationRequest

MIN_TOKENS_PER_MESSAGE = 4  # role markers around each message (6 in SmolLM2's template)
MAX_CHARS_PER_TOKEN = 32  # English text averages about 4; whitespace runs and code more
MAX_MESSAGES = 1024  # whatever the context: templating more would hold the model for seconds


def message_cap(n_ctx: int) -> int:
    return max(1, min(MAX_MESSAGES, n_ctx // MIN_TOKENS_PER_MESSAGE))


def char_cap(n_ctx: int) -> int:
    return n_ctx * MAX_CHARS_PER_TOKEN


def check_size(request: GenerationRequest, n_ctx: int) -> None:
    """Raise a 400 ``ApiError`` (code ``context_length_exceeded``, as OpenAI answers a request
    too long for the model) when ``request`` cannot fit a context of ``n_ctx`` tokens.
    ``n_ctx`` 0 (unknown) checks nothing."""
    if n_ctx <= 0:
        return
    if request.prompts:
        for index, prompt in enumerate(request.prompts):
            if len(prompt) > char_cap(n_ctx):
                where = "The prompt" if len(request.prompts) == 1 else f"Prompt {index}"
                raise _too_long(
                    f"{where} is {len(prompt):,} characters long: far more than "
                    f"the model's context of {n_ctx:,} tokens can take (about "
                    f"{char_cap(n_ctx):,} characters at most). Shorten it.",
                    "prompt",
                    n_ctx,
                )
        return
    count = len(request.messages)
    if count > message_cap(n_ctx):
        raise _too_long(
            f"This chat has {count:,} messages; at most {message_cap(n_ctx):,} are "
            f"taken with the model's context of {n_ctx:,} tokens. Send fewer: "
            "drop or summarise the oldest ones.",
            "messages",
            n_ctx,
        )
    # The text alone: an image's tokens are the projector's to count, not its base64's.
    chars = sum(len(message["content"]) for message in images.text_only(request.messages))
    if chars > char_cap(n_ctx):
        raise _too_long(
            f"The messages hold {chars:,} characters: far more than the model's "
            f"context of {n_ctx:,} tokens can take (about {char_cap(n_ctx):,} "
            "characters at most). Shorten them, or start a new conversation.",
            "messages",
            n_ctx,
        )


def _too_long(message: str, param: str, n_ctx: int) -> ApiError:
    """In OpenAI's words first: clients read the context length from them."""
    return ApiError(
        400,
        f"This model's maximum context length is {n_ctx} tokens. {message}",
        "context_length_exceeded",
        param=param,
    )
