"""Prompt-lookup drafting: guess the next tokens from where the chat's last few tokens appeared.

Given to ``llama_cpp.Llama`` as its ``draft_model``: llama-cpp-python decodes the guesses with
the next token in one batch and keeps them as far as sampling agrees. Every guess thrown away
was decoded for nothing, so this guesses only on a match of ``min_ngram`` tokens or more.
llama-cpp-python's own ``LlamaPromptLookupDecoding`` falls back to a single token's match,
which nearly always exists: on the starter model it drafted on almost every step and made
free chat 4 times slower (``hearth bench draft``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

DRAFT_NGRAM = (3, 2)  # the longest and shortest runs of tokens looked up in the chat


class PromptLookup:
    """A ``LlamaDraftModel`` in all but its base class (importing that would load llama.cpp)."""

    def __init__(self, tokens: int, ngram: tuple[int, int] = DRAFT_NGRAM) -> None:
        self.tokens = tokens
        self.longest, self.shortest = ngram

    def __call__(self, input_ids: npt.NDArray[np.intc], /, **kwargs: Any) -> npt.NDArray[np.intc]:
        """Up to ``tokens`` tokens that followed the latest earlier appearance of the chat's
        last ``longest`` (down to ``shortest``) tokens; none when they never appeared."""
        ids = np.asarray(input_ids)
        for size in range(min(self.longest, len(ids) - 1), self.shortest - 1, -1):
            windows = np.lib.stride_tricks.sliding_window_view(ids[:-1], size)
            starts = np.nonzero(np.all(windows == ids[-size:], axis=1))[0]
            if len(starts):
                follow = int(starts[-1]) + size
                return ids[follow : follow + self.tokens].astype(np.intc)
        return np.array([], dtype=np.intc)
