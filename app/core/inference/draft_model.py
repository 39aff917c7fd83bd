"""Drafting with a smaller model of the same family (``LoadOptions.draft_model_path``).

Given to ``llama_cpp.Llama`` as its ``draft_model``, as ``PromptLookup`` is: before each step
the small model guesses the next tokens greedily, and llama-cpp-python decodes them with the
big model in one batch and keeps them as far as the big model's own sampling agrees, so the
answer is the big model's (at temperature 0, its greedy answer, up to the near-ties a batch's
logits can flip: ``tests/core/inference/test_drafting.py``). The guesses are token ids, so the
two models must share one vocabulary: a model whose tokens differ is refused before either is
used. The small model keeps the chat in its own KV cache and, at each step, decodes only what
it has not seen (the big model's last token, or where its guesses were wrong).
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from app.core.common.errors import ModelFileError, ModelLoadError
from app.core.compat.llama_cpp import is_end_of_generation, last_logits, token_text
from app.core.gguf import check
from app.core.gguf.header import read_local_header

if TYPE_CHECKING:
    import llama_cpp

log = logging.getLogger("hearth.engine")


class ModelDrafter:
    """A ``LlamaDraftModel`` in all but its base class: ``tokens`` greedy guesses a step."""

    def __init__(self, llm: llama_cpp.Llama, path: Path, tokens: int) -> None:
        self._llm = llm
        self.path = path
        self.tokens = tokens

    @classmethod
    def open(
        cls, path: Path, model: Path, *, n_ctx: int, threads: int, gpu_layers: int, tokens: int
    ) -> ModelDrafter:
        """Load the draft model ``path`` for ``model``; ``ModelLoadError`` (one sentence) when
        it cannot be read or its vocabulary is not the model's (as far as the headers tell:
        ``check_vocabulary`` compares the tokens once both are loaded)."""
        import llama_cpp

        check.check_file(path)
        try:
            mine, theirs = read_local_header(path), read_local_header(model)
        except (ModelFileError, OSError) as exc:
            raise ModelLoadError(f"The draft model {path.name} could not be read: {exc}") from exc
        for key in ("tokenizer.ggml.model", "tokenizer.ggml.pre"):
            if mine.get(key) != theirs.get(key):
                raise _other_vocabulary(path, model)
        if mine.vocab_size != theirs.vocab_size:
            raise _other_vocabulary(path, model)
        chatter = io.StringIO()  # llama-cpp-python's own prints when verbose, kept in the log
        try:
            with contextlib.redirect_stderr(chatter):
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_gpu_layers=gpu_layers,
                    verbose=True,  # llama.cpp's log goes to Hearth's (compat.llama_cpp)
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load the draft model {path.name}.") from exc
        finally:
            if chatter.getvalue():
                log.debug("llama-cpp-python (draft model): %s", chatter.getvalue().strip())
        llm.verbose = False
        return cls(llm, path, tokens)

    def check_vocabulary(self, model: llama_cpp.Llama, model_path: Path) -> None:
        """Refuse (``ModelLoadError``) a draft model whose tokens are not ``model``'s, token
        for token: its guesses would be other words."""
        small = self._llm
        if small.n_vocab() != model.n_vocab() or any(
            token_text(small, i) != token_text(model, i) for i in range(model.n_vocab())
        ):
            raise _other_vocabulary(self.path, model_path)

    def __call__(self, input_ids: npt.NDArray[np.intc], /, **kwargs: Any) -> npt.NDArray[np.intc]:
        """The small model's greedy continuation of ``input_ids`` (the chat so far), up to
        ``tokens`` long, ending early at an end of turn or the end of the context."""
        llm = self._llm
        ids = np.asarray(input_ids, dtype=np.intc)
        room = llm.n_ctx() - len(ids) - 1
        if room <= 0 or not len(ids):
            return np.array([], dtype=np.intc)
        seen = min(llm.n_tokens, len(ids))
        same = llm.input_ids[:seen] == ids[:seen]
        kept = min(int(np.argmin(np.append(same, False))), len(ids) - 1)  # re-decode the last
        llm.n_tokens = kept  # eval drops the KV cache past n_tokens
        llm.eval(ids[kept:].tolist())
        guesses: list[int] = []
        for _ in range(min(self.tokens, room)):
            token = int(np.argmax(last_logits(llm)))
            guesses.append(token)
            if is_end_of_generation(llm, token) or len(guesses) == self.tokens:
                break
            llm.eval([token])
        return np.array(guesses, dtype=np.intc)

    def close(self) -> None:
        self._llm.close()


def _other_vocabulary(path: Path, model: Path) -> ModelLoadError:
    return ModelLoadError(
        f"The draft model {path.name} cannot draft for {model.name}: its vocabulary is another "
        "(pick a smaller model of the same family)."
    )
