"""Embeddings of texts with the loaded model, for the API server's ``/v1/embeddings``.

llama.cpp gives embeddings only from a context made for them (``embedding=True``), so a second,
small context is made on the same file the first time one is asked for (the weights are mapped
from the same file, so they are shared in memory) and closed with the model. Each text's
vector is the mean over its tokens, normalised to length 1, as OpenAI's are.
"""

from __future__ import annotations

from pathlib import Path

from app.core.common.errors import UnsupportedRequest

N_CTX = 2048  # the longest text one embedding takes, in tokens


class Embedder:
    def __init__(self, path: Path, n_threads: int) -> None:
        import llama_cpp

        from app.core.compat.llama_cpp import route_log_to_logging

        route_log_to_logging()
        self._llm = llama_cpp.Llama(
            model_path=str(path),
            embedding=True,
            n_ctx=N_CTX,
            n_batch=N_CTX,
            n_ubatch=N_CTX,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
            verbose=False,
        )

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """The texts' vectors and the tokens they took."""
        counts = [len(self._llm.tokenize(t.encode("utf-8"), add_bos=True)) for t in texts]
        for index, count in enumerate(counts):
            if count > N_CTX:
                raise UnsupportedRequest(
                    f"input[{index}] is {count:,} tokens long; an embedding takes at most "
                    f"{N_CTX:,}. Split it."
                )
        vectors = self._llm.embed(texts, normalize=True)
        return [list(map(float, v)) for v in vectors], sum(counts)

    def close(self) -> None:
        self._llm.close()
