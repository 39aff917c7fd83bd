"""Perplexity, KL divergence and same-top-token share from raw logits, in bounded memory.

The reference model's next-token distributions are needed again when each other file is
scored. They are kept as float16 log-probabilities in an unnamed temporary file (deleted by the
system even if Hearth crashes), written and read back sequentially in blocks: ``positions x
n_vocab x 2`` bytes on disk (about 100 MB for 1,024 positions of a 49k vocabulary), and at
most ``BLOCK_ROWS x n_vocab`` floats of each temporary in memory. Float16 log-probabilities
keep the KL divergence to about 1e-4 absolute (log-probabilities near 0, where the
probability mass is, are the most precise). The reference's top token per position is kept
exactly, in memory (one int per position).

Definitions follow llama.cpp's ``perplexity --kl-divergence``: KL(P_ref || Q) per position,
averaged; perplexity = exp(mean negative log-likelihood of the text's next tokens).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

BLOCK_ROWS = 32


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Rows of log-probabilities (float32) from rows of logits."""
    shifted = logits.astype(np.float32, copy=True)
    shifted -= shifted.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


class ReferenceLogits:
    """The reference's log-probabilities, recorded once and replayed for every other file."""

    def __init__(self, n_vocab: int, folder: Path | None = None) -> None:
        self.n_vocab = n_vocab
        self._file = tempfile.TemporaryFile(prefix="hearth-ref-", dir=folder)
        self._top: list[np.ndarray] = []
        self.rows = 0

    @property
    def top(self) -> np.ndarray:
        return np.concatenate(self._top) if self._top else np.empty(0, dtype=np.int32)

    def write(self, logprobs: np.ndarray) -> None:
        self._file.write(logprobs.astype(np.float16).tobytes())
        self._top.append(logprobs.argmax(axis=1).astype(np.int32))
        self.rows += len(logprobs)

    def rewind(self) -> None:
        self._file.flush()
        self._file.seek(0)

    def read(self, rows: int) -> np.ndarray:
        data = self._file.read(rows * self.n_vocab * 2)
        if len(data) != rows * self.n_vocab * 2:
            raise ValueError("reference logits exhausted")
        return np.frombuffer(data, dtype=np.float16).reshape(rows, self.n_vocab)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ReferenceLogits:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Scorer:
    """Running totals for one file over the scored positions, in the reference's order.

    ``record=True`` scores the reference itself and records it; otherwise each block is
    compared with the reference's recorded block at the same positions.
    """

    def __init__(self, reference: ReferenceLogits, record: bool) -> None:
        self.reference = reference
        self.record = record
        self.count = 0
        self._nll = 0.0
        self._kld = 0.0
        self._same_top = 0
        # The recorded top tokens to compare with (none yet while recording).
        self._top_ref = reference.top
        if not record:
            reference.rewind()

    def add(self, logits: np.ndarray, targets: np.ndarray) -> None:
        """Score rows of logits whose next tokens are ``targets``."""
        for start in range(0, len(logits), BLOCK_ROWS):
            block = logits[start : start + BLOCK_ROWS]
            wanted = targets[start : start + BLOCK_ROWS]
            logq = log_softmax(block)
            rows = np.arange(len(block))
            self._nll -= float(logq[rows, wanted].astype(np.float64).sum())
            if self.record:
                self.reference.write(logq)
                self._same_top += len(block)
            else:
                logp = self.reference.read(len(block)).astype(np.float32)
                kld = (np.exp(logp) * (logp - logq)).sum(axis=1, dtype=np.float64)
                self._kld += float(kld.sum())
                top_ref = self._top_ref[self.count : self.count + len(block)]
                self._same_top += int((block.argmax(axis=1) == top_ref).sum())
            self.count += len(block)

    @property
    def ppl(self) -> float:
        return math.exp(self._nll / self.count) if self.count else float("nan")

    @property
    def kld(self) -> float:
        return max(0.0, self._kld / self.count) if self.count else float("nan")

    @property
    def same_top_pct(self) -> float:
        return 100.0 * self._same_top / self.count if self.count else float("nan")
