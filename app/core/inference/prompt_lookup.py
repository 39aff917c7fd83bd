"""Prompt-lookup drafting: guess the next tokens from where the chat's last few tokens appeared.

Given to ``llama_cpp.Llama`` as its ``draft_model``: llama-cpp-python decodes the guesses with
the next token in one batch and keeps them as far as sampling agrees. A guess thrown away was
decoded for nothing, and on a CPU a batch of tokens costs nearly as much as that many tokens
one by one (the starter model, 1 thread on this 2-core machine: a batch of 2 tokens with their
logits 1.9 - 2.5 one-token decodes, of 5: 4.1 - 5.1, of 9: 5.8 - 7.8), so a guess pays only
when long and kept nearly whole. Hence: a guess only on a match of ``shortest`` (4) tokens or
more, and only of ``MIN_GUESS`` tokens or more; as many tokens as the last guesses earned
(twice as many after a guess kept whole, as many as were kept after one cut short); and after
a guess kept for fewer than ``MIN_GUESS`` tokens, no guess for the next ``PAUSE`` steps. With
a match of 2 tokens and a guess of any length, as before, free chat ran at 0.83 and revisions
at 0.55 of the plain speed (``hearth bench draft``). llama-cpp-python's own
``LlamaPromptLookupDecoding`` falls back to a single token's match, which nearly always
exists, and always guesses its full count: on the starter model free chat ran 4 times slower.

Guesses come from the prompt (the system prompt, the user's turns, earlier answers) on a match
of ``shortest`` tokens, and from the answer being written only on a match of ``OWN_RUN`` (8): a
revision copies the prompt, and repeats a line of its own (the same loop twice), while a story
echoes its own phrases for a few tokens and then goes its own way. Looked up in the whole chat,
a story's echoes made free chat 0.76 of the plain speed on the starter's F16, where batches are
cheap; in the prompt alone, free chat ran at 0.98 - 1.00 but the revision only at 1.10, its own
repeated lines no longer guessed (``hearth bench draft``). ``start_answer`` (called by the
engine before each answer) marks the next call as an answer's first, whose tokens but the last
sampled one are the prompt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

DRAFT_NGRAM = (6, 4)  # the longest and shortest runs of tokens looked up in the chat
MIN_GUESS = 4  # shorter guesses cost more than they can save (the batch costs above)
PAUSE = 4  # steps without guessing after a guess kept for fewer than MIN_GUESS tokens
OWN_RUN = 8  # the run of tokens an answer must repeat of its own text to be guessed from


class PromptLookup:
    """A ``LlamaDraftModel`` in all but its base class (importing that would load llama.cpp)."""

    def __init__(self, tokens: int, ngram: tuple[int, int] = DRAFT_NGRAM) -> None:
        self.tokens = tokens  # the most guessed at once
        self.longest, self.shortest = ngram
        self._guess: npt.NDArray[np.intc] = np.array([], dtype=np.intc)
        self._guessed_at = 0  # the chat's length when ``_guess`` was made
        self._size = tokens  # how many to guess next
        self._shortest_guess = min(MIN_GUESS, tokens)
        self._pause = 0  # steps without guessing
        self._prompt_end = -1  # where the answer being written starts; -1: at the next call
        self._prompt_runs: dict[bytes, int] = {}  # a run of the prompt: where it last starts
        self._own_runs = _Runs(OWN_RUN)  # the chat's runs of OWN_RUN tokens

    def start_answer(self) -> None:
        """The next call is an answer's first: its tokens but the last are the prompt."""
        self._prompt_end = -1

    def __call__(self, input_ids: npt.NDArray[np.intc], /, **kwargs: Any) -> npt.NDArray[np.intc]:
        """Up to ``_size`` tokens that followed the latest appearance in the prompt of the chat's
        last ``longest`` (down to ``shortest``) tokens; none when they never appeared there."""
        ids = np.asarray(input_ids, dtype=np.intc)
        if self._prompt_end < 0:  # an answer's first call: start afresh
            self._prompt_end = len(ids) - 1
            self._guess = np.array([], dtype=np.intc)
            self._size, self._pause = self.tokens, 0
            self._prompt_runs = _index_runs(ids[: self._prompt_end], self.shortest, self.longest)
        self._learn(ids)
        guess = np.array([], dtype=np.intc)
        if self._pause:
            self._pause -= 1
        else:
            guess = self._look_up(ids)
        if len(guess) < self._shortest_guess:
            guess = guess[:0]
        self._guess, self._guessed_at = guess, len(ids)
        return guess

    def _look_up(self, ids: npt.NDArray[np.intc]) -> npt.NDArray[np.intc]:
        prompt = ids[: self._prompt_end]
        for size in range(min(self.longest, len(prompt) - 1), self.shortest - 1, -1):
            start = self._prompt_runs.get(ids[-size:].tobytes())
            if start is not None:
                follow = start + size
                return prompt[follow : follow + self._size]
        if len(ids) > OWN_RUN:  # a long run of the answer's own repeated
            start = self._own_runs.latest(ids)
            if start is not None:
                follow = start + OWN_RUN
                return ids[follow : follow + self._size]
        return np.array([], dtype=np.intc)

    def _learn(self, ids: npt.NDArray[Any]) -> None:
        """Size the next guess by how much of the last one the answer kept."""
        guess, at = self._guess, self._guessed_at
        if not len(guess):
            return
        came = ids[at : at + len(guess)]
        kept = int(np.argmin(np.append(came == guess[: len(came)], False)))
        if kept == len(guess):
            self._size = min(self.tokens, 2 * self._size)
        elif kept >= self._shortest_guess:
            self._size = kept
        else:
            self._pause = PAUSE


def _index_runs(tokens: npt.NDArray[np.intc], shortest: int, longest: int) -> dict[bytes, int]:
    """Every run of ``shortest`` to ``longest`` tokens of ``tokens[:-1]`` (a token follows
    each), to where it last starts. Built once an answer: a lookup is then one dict access,
    where searching the prompt with numpy on every token cost 0.4 - 1.1 ms a token for
    prompts of 60 - 2,000 tokens (3 - 7% of the starter's token on this machine)."""
    runs: dict[bytes, int] = {}
    body = tokens[:-1]
    for size in range(shortest, longest + 1):
        for start in range(len(body) - size + 1):
            runs[body[start : start + size].tobytes()] = start
    return runs


class _Runs:
    """The runs of ``size`` tokens of a growing chat (each followed by a token), to where each
    last starts; indexed as the chat grows, from scratch when its earlier tokens change."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._starts: dict[bytes, int] = {}
        self._seen: npt.NDArray[np.intc] = np.array([], dtype=np.intc)

    def latest(self, ids: npt.NDArray[np.intc]) -> int | None:
        """Where the run of the last ``size`` tokens of ``ids`` last starts before them."""
        seen = self._seen
        if len(seen) > len(ids) or not np.array_equal(ids[: len(seen)], seen):
            self._starts, seen = {}, seen[:0]  # another chat, or one rewound: index afresh
        first = max(0, len(seen) - self.size)  # runs ending in seen[-1] had no follower yet
        for start in range(first, len(ids) - self.size):
            self._starts[ids[start : start + self.size].tobytes()] = start
        self._seen = ids.copy()
        return self._starts.get(ids[-self.size :].tobytes())
