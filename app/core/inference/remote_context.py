"""When a chat no longer fits a remote model's context.

Servers refuse such a chat with an HTTP 400 (or an error event in the stream) whose words carry
the numbers Hearth needs:

* llama.cpp's server and Ollama: ``request (9412 tokens) exceeds the available context size
  (8192 tokens)``, with ``"type": "exceed_context_size_error"``, ``n_prompt_tokens`` and
  ``n_ctx`` in newer versions;
* OpenAI, vLLM and llama-cpp-python's server: ``This model's maximum context length is 2048
  tokens. However, you requested 3081 tokens (3031 in the messages, 50 in the completion)``, or
  ``... your messages resulted in 130000 tokens``.

``context_full`` turns them into ``RemoteContextFull``. The server counts the tokens, not
Hearth: ``ContextEstimate`` remembers the server's count of the chat it refused and, when the
user chooses to drop the oldest turns, drops them until the characters left, scaled by that
count, fit with room for the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.common.errors import RemoteContextFull

_LLAMA_CPP = re.compile(
    r"request \((\d+) tokens\) exceeds the available context size "
    r"\((\d+) tokens\)"
)
_OPENAI = re.compile(
    r"maximum context length is (\d+) tokens.*?(?:requested|resulted in) "
    r"(\d+) tokens(?: \((\d+) in the messages)?",
    re.S,
)
MESSAGE_OVERHEAD_CHARS = 16  # a message's role and template markers, counted as characters
MARGIN = 0.9  # aim under the limit: the estimate is a scaled character count


def context_full(body: object, detail: str) -> RemoteContextFull | None:
    """The refusal in ``body`` (the server's JSON error) or ``detail`` (its message), when it
    says the chat is longer than the context; else None."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
        prompt, limit = error.get("n_prompt_tokens"), error.get("n_ctx")
        if type(prompt) is int and type(limit) is int:
            return RemoteContextFull(prompt, limit, prompt)
    match = _LLAMA_CPP.search(detail)
    if match:
        prompt, limit = int(match[1]), int(match[2])
        return RemoteContextFull(prompt, limit, prompt)
    match = _OPENAI.search(detail)
    if match:
        limit, used = int(match[1]), int(match[2])
        return RemoteContextFull(used, limit, int(match[3]) if match[3] else used)
    return None


def _chars(messages: Sequence[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content") or "")) + MESSAGE_OVERHEAD_CHARS for m in messages)


@dataclass
class ContextEstimate:
    """What the server said of the last chat it refused: its context and tokens per character."""

    limit: int = 0
    tokens_per_char: float = 0.0

    def learn(self, messages: Sequence[dict[str, Any]], refused: RemoteContextFull) -> None:
        self.limit = refused.limit
        self.tokens_per_char = refused.prompt_tokens / max(_chars(messages), 1)

    def tokens(self, messages: Sequence[dict[str, Any]]) -> int:
        return round(_chars(messages) * self.tokens_per_char)

    def fit(self, messages: Sequence[dict[str, Any]], reserve: int) -> list[dict[str, Any]]:
        """Drop the oldest turns (never the system prompt or the last message) until the chat
        and ``reserve`` answer tokens should fit. Before any refusal, the chat is kept whole.
        Raises ``RemoteContextFull`` when even the last message alone is too long."""
        kept = list(messages)
        if not self.limit:
            return kept
        budget = self.limit * MARGIN
        while self.tokens(kept) + reserve > budget:
            first = 1 if kept and kept[0].get("role") == "system" else 0
            if len(kept) - first <= 1:
                tokens = self.tokens(kept)
                raise RemoteContextFull(tokens + reserve, self.limit, tokens)
            del kept[first]
        return kept
