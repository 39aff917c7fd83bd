"""Evaluate token sequences with llama.cpp's low-level API and read the logits of any position.

The high-level ``Llama`` class keeps only the last position's logits unless ``logits_all=True``,
which preallocates ``n_ctx x n_vocab x 4`` bytes. Measuring needs every position's logits, but
only one batch at a time: llama.cpp's own output buffer holds ``n_outputs x n_vocab`` floats for
the latest ``llama_decode``, and ``decode`` returns a view of it. One ``Evaluator`` belongs to
one thread; ``cancel`` is checked by llama.cpp inside each decode (abort callback).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

import numpy as np
import psutil

from app.core.common.errors import MeasureCancelled, ModelLoadError
from app.core.compat.llama_cpp import bindings, buffer_sizes, host_bytes, route_log_to_logging

_backend_ready = False


def _init_backend() -> ModuleType:
    global _backend_ready
    lib = bindings()
    if not _backend_ready:
        route_log_to_logging()
        lib.llama_backend_init()
        _backend_ready = True
    return lib


def idle_threads(sample_seconds: float = 0.2) -> int:
    """Threads to run with now: the cores other processes leave idle (at least one).

    Threads that share a core with another process wait for each other at every step of the
    computation (see ``prefer_passive_wait``); one thread per idle core avoids that. Blocks
    for ``sample_seconds`` to read the machine's CPU use.
    """
    cores = default_threads()
    busy = psutil.cpu_percent(interval=sample_seconds) / 100 * (os.cpu_count() or cores)
    return max(1, min(cores, int(cores - busy + 0.5)))


def prefer_passive_wait() -> bool:
    """Let llama.cpp's OpenMP threads sleep, not spin, while they wait for each other.

    With spinning threads (the default), a core taken by another process mid-run starves
    the whole computation: on a 2-core machine generation fell to ~0.5 tokens/s and prompt
    speed to ~30 (from ~90 and ~280 when idle). Passive waiting keeps ~35-45 and ~135 under the
    same load, at the cost of slower token-by-token generation on an idle machine for very
    small models (barrier wake-ups dominate a 135M model's ~10 ms per token; not a 7B's).
    OpenMP reads the setting when llama.cpp's library loads: call this before anything
    imports ``llama_cpp`` (``hearth compare`` and ``hearth bench compare`` do). Returns
    whether passive waiting is in effect for this process.
    """
    if "llama_cpp" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"


def default_threads() -> int:
    """The physical cores this process may use (llama.cpp gains nothing from hyper-threads)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        allowed = os.cpu_count() or 1
    return max(1, min(allowed, psutil.cpu_count(logical=False) or allowed))


class Vocab:
    """A model's tokenizer alone (``vocab_only``: no weights are loaded)."""

    def __init__(self, path: Path) -> None:
        lib = _init_backend()
        self._lib = lib
        params = lib.llama_model_default_params()
        params.vocab_only = True
        self._model = lib.llama_model_load_from_file(str(path).encode("utf-8"), params)
        if not self._model:
            raise ModelLoadError(f"llama.cpp could not read the vocabulary of {Path(path).name}.")
        vocab = lib.llama_model_get_vocab(self._model)
        self.n_vocab = int(lib.llama_vocab_n_tokens(vocab))
        self.add_bos = bool(lib.llama_vocab_get_add_bos(vocab))
        self.bos = int(lib.llama_vocab_bos(vocab))
        self._vocab = vocab

    def tokenize(self, text: str) -> list[int]:
        """The text's tokens, without BOS and without parsing special tokens."""
        return _tokenize(self._lib, self._vocab, text)

    def close(self) -> None:
        if self._model is not None:
            self._lib.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> Vocab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tokenize(lib: ModuleType, vocab: object, text: str) -> list[int]:
    data = text.encode("utf-8")
    size = len(data) + 16
    buffer = (lib.llama_token * size)()
    count = lib.llama_tokenize(vocab, data, len(data), buffer, size, False, False)
    if count < 0:
        raise ValueError("tokenizer buffer too small")
    return list(buffer[:count])


class Evaluator:
    """One model and one context; a context manager that frees both."""

    def __init__(
        self,
        path: Path,
        n_ctx: int,
        n_batch: int,
        threads: int = 0,
        cancel: threading.Event | None = None,
    ) -> None:
        lib = _init_backend()
        self._lib = lib
        self.path = Path(path)
        self.n_batch = n_batch
        self._model = None
        self._ctx = None
        self._batch = None
        self._cancel = cancel or threading.Event()
        with buffer_sizes() as sizes:
            self._load(n_ctx, n_batch, threads)
        # What llama.cpp allocated for this file in this computer's memory: its weights
        # (mapped, and any repacked copies), KV cache, compute and output buffers. Not the
        # process's resident memory: measured in one process file after file, that read
        # later files low (memory freed by one file was taken again by the next).
        self.memory_bytes = host_bytes(sizes)
        self._vocab = lib.llama_model_get_vocab(self._model)
        self.n_vocab = int(lib.llama_vocab_n_tokens(self._vocab))
        self.add_bos = bool(lib.llama_vocab_get_add_bos(self._vocab))
        self.bos = int(lib.llama_vocab_bos(self._vocab))
        self._batch = lib.llama_batch_init(n_batch, 0, 1)
        cancel_flag = self._cancel
        self._abort_cb = lib.ggml_abort_callback(lambda _data: cancel_flag.is_set())
        lib.llama_set_abort_callback(self._ctx, self._abort_cb, ctypes.c_void_p(0))

    def _load(self, n_ctx: int, n_batch: int, threads: int) -> None:
        lib = self._lib
        self._model = lib.llama_model_load_from_file(
            str(self.path).encode("utf-8"), lib.llama_model_default_params()
        )
        if not self._model:
            self._model = None
            raise ModelLoadError(
                f"llama.cpp could not load {self.path.name}: the file may be "
                "damaged, incomplete or of an unsupported architecture."
            )
        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_threads = params.n_threads_batch = threads or default_threads()
        params.no_perf = True
        # As the chat engine runs (LoadOptions.flash_attn=False). llama.cpp's default, "auto",
        # turns flash attention on for CPU, which moved the starter's Q5_K_M logits by up to
        # 1.7 (mean KLD 0.006 against the same file without it, more than Q8_0's whole loss).
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        ctx = lib.llama_init_from_model(self._model, params)
        if not ctx:
            self.close()
            raise ModelLoadError(
                f"Not enough memory for a {n_ctx}-token context with {self.path.name}."
            )
        self._ctx = ctx

    def clear(self) -> None:
        """Forget every position (start a new sequence)."""
        self._lib.llama_memory_clear(self._lib.llama_get_memory(self._ctx), True)

    def decode(self, tokens: list[int], pos0: int, outputs: list[bool]) -> np.ndarray:
        """Run ``tokens`` at positions ``pos0...``; return the logits of the positions whose
        ``outputs`` flag is set, shape ``(n_outputs, n_vocab)``.

        The array is a view of llama.cpp's buffer, valid until the next ``decode``.
        Raises ``MeasureCancelled`` when ``cancel`` was set during the decode.
        """
        if self._cancel.is_set():
            raise MeasureCancelled("The measurement was cancelled.")
        batch = self._batch
        if batch is None:  # a bug, not the user's doing: the evaluator was used after close()
            raise ValueError(f"the evaluator of {self.path.name} is closed")
        n = len(tokens)
        if not 0 < n <= self.n_batch:
            raise ValueError(f"batch of {n} tokens (limit {self.n_batch})")
        batch.n_tokens = n
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = pos0 + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = outputs[i]
        code = self._lib.llama_decode(self._ctx, batch)
        if code != 0:
            if self._cancel.is_set():
                raise MeasureCancelled("The measurement was cancelled.")
            raise ModelLoadError(
                f"llama.cpp failed while evaluating {self.path.name} "
                f"(llama_decode returned {code})."
            )
        n_out = sum(1 for flag in outputs[:n] if flag)
        if n_out == 0:
            return np.empty((0, self.n_vocab), dtype=np.float32)
        pointer = self._lib.llama_get_logits(self._ctx)
        return np.ctypeslib.as_array(pointer, shape=(n_out * self.n_vocab,)).reshape(
            n_out, self.n_vocab
        )

    def close(self) -> None:
        lib = self._lib
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None
        if self._model is not None:
            lib.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
