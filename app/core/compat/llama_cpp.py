"""llama-cpp-python's private and low-level parts: Hearth reaches them only through here, and
tests/core/compat/test_llama_cpp.py pins each one on the installed version (0.3.36), so a new
release that moves one fails that test, not the studio.

- llama.cpp's own log, routed into Python logging (``hearth.llama``): llama-cpp-python's
  ``verbose=False`` silences llama.cpp by redirecting the process's file descriptors 1 and 2,
  which would swallow other threads' output; Hearth keeps ``verbose=True`` and installs a log
  callback instead. The last lines are kept so load errors can say what went wrong.
- ``Llama``'s private parts (``_model``, ``_ctx``, ``_chat_handlers``, ``sample``): the
  end-of-generation test, a special token's text, the trained context length, the file's chat
  handlers, a hook on every sampled token, the abort callback that lets Stop cut a long
  prompt short; the last decoded token's logits (a draft model's greedy guess).
- Load progress and tensor buffer overrides: ``llama_model_params.progress_callback`` and
  ``tensor_buft_overrides`` are not exposed, so the params factory ``Llama`` calls through is
  wrapped for one load (the overrides keep matching tensors in RAM: ggml's CPU buffer type).
- The chat formatter ``Llama`` builds for a file's templates, swapped for Hearth's guarded one.
- The multimodal chat handler (``MTMDChatHandler``: ``_init_mtmd_context``, ``mtmd_ctx``,
  ``load_image``, ``_create_bitmap_from_bytes``, ``_mtmd_cpp``): an image projector loaded
  with the model, each image given to mtmd as decoded pixels (``mtmd_bitmap_init``), and the
  tokens an image takes.
- The ctypes bindings of llama.h (the quantizer, the measuring passes, the build's system
  info) and ggml's device registry (``llama_cpp._ggml``).
- The buffer sizes llama.cpp's log reports at a load (weights, KV cache, compute, output):
  what a file takes in memory, which llama.h has no call for.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

log = logging.getLogger("hearth.llama")

# ggml_log_level (ggml.h): NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the last)
_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_recent: collections.deque[str] = collections.deque(maxlen=50)
_lock = threading.Lock()
_callback = None  # must stay referenced while llama.cpp may call it
_pending = ""
_pending_level = logging.DEBUG


def _on_log(level: int, text: bytes, _user_data: object) -> None:
    global _pending, _pending_level
    try:
        message = text.decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - a log callback must never raise into C
        return
    with _lock:
        if level != 5:
            _pending_level = _LEVELS.get(level, logging.DEBUG)
        _pending += message
        if not _pending.endswith("\n"):
            return
        lines, _pending = _pending.rstrip("\n"), ""
        line_level = _pending_level
    sizes = getattr(_buffers, "sizes", None)
    for line in lines.splitlines():
        _recent.append(line)
        log.log(line_level, "%s", line)
        if sizes is not None and (found := _BUFFER.search(line)):
            name = f"{found[1]} {found[2]}"  # a split model maps each of its parts
            sizes[name] = sizes.get(name, 0) + round(float(found[3]) * 2**20)


# What llama.cpp says it allocated, as it loads a model and makes a context:
# "load_tensors:   CPU_Mapped model buffer size =   136.40 MiB", "CPU KV buffer size = 11.25
# MiB", "CPU compute buffer size = 24.56 MiB", "CPU  output buffer size = 0.19 MiB" (also
# CPU_REPACK weights, a recurrent model's RS buffer, a GPU's CUDA0 ... buffers).
_BUFFER = re.compile(r"\b(\S+)\s+(model|KV|RS|compute|output) buffer size\s*=\s*([\d.]+) MiB")
_buffers = threading.local()


@contextlib.contextmanager
def buffer_sizes() -> Iterator[dict[str, int]]:
    """The buffers llama.cpp reports allocating on this thread inside the block, by
    "<device> <kind>" ("CPU_Mapped model", "CPU KV", "CPU compute", ...), in bytes. Needs
    ``route_log_to_logging`` (llama.cpp's log is how it says them)."""
    sizes: dict[str, int] = {}
    _buffers.sizes = sizes
    try:
        yield sizes
    finally:
        _buffers.sizes = None


def host_bytes(sizes: dict[str, int]) -> int:
    """The buffers of ``buffer_sizes`` in this computer's memory (the CPU's, mapped weights,
    repacked weights, a GPU's pinned host buffers), not in a GPU's."""
    return sum(n for name, n in sizes.items() if name.startswith("CPU") or "_Host" in name)


def route_log_to_logging() -> None:
    """Install the callback once per process."""
    global _callback
    if _callback is not None:
        return
    import llama_cpp

    _callback = llama_cpp.llama_log_callback(_on_log)
    llama_cpp.llama_log_set(_callback, None)


def recent_log() -> str:
    """The last lines llama.cpp logged."""
    return "\n".join(_recent)


def bindings() -> ModuleType:
    """The ctypes bindings of llama.h (``llama_cpp.llama_cpp``, the module ``Llama`` calls
    through); importing it loads llama.cpp's library."""
    from llama_cpp import llama_cpp as low_level

    return low_level


def model_quantize(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    ftype: int,
    threads: int,
    *,
    allow_requantize: bool = False,
) -> int:
    """Write ``source`` quantized to ``ftype`` (a ``LLAMA_FTYPE_*``) as ``target`` with
    llama.cpp's quantizer: 0 when it worked, else llama.cpp's error code."""
    lib = bindings()
    params = lib.llama_model_quantize_default_params()
    params.ftype = int(ftype)
    params.nthread = int(threads)
    params.allow_requantize = allow_requantize
    source_path, target_path = os.fsencode(source), os.fsencode(target)
    return int(lib.llama_model_quantize(source_path, target_path, ctypes.byref(params)))


def ggml_device_registry() -> Any:
    """ggml's library (``llama_cpp._ggml.libggml``, private) with the signatures of the device
    registry calls declared: count, get, name, description, type, memory."""
    from llama_cpp import _ggml

    lib = _ggml.libggml
    lib.ggml_backend_dev_count.restype = ctypes.c_size_t
    lib.ggml_backend_dev_get.restype = ctypes.c_void_p
    lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    for fn in (lib.ggml_backend_dev_name, lib.ggml_backend_dev_description):
        fn.restype, fn.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
    lib.ggml_backend_dev_type.restype = ctypes.c_int
    lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_memory.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    return lib


def is_end_of_generation(llm: Any, token: int) -> bool:
    """True for a token that ends the model's turn (EOS, EOT...), by the vocabulary of the
    ``Llama``'s private model."""
    return token >= 0 and bool(bindings().llama_vocab_is_eog(llm._model.vocab, token))


def chat_handler_names(llm: Any) -> frozenset[str]:
    """The chat handlers ``Llama`` built from the file's templates (``chat_template.default``
    and the named ones), kept in its private ``_chat_handlers``."""
    return frozenset(llm._chat_handlers)


def n_ctx_train(llm: Any) -> int:
    """The context length the model was trained with (its private model's ``n_ctx_train``)."""
    return int(llm._model.n_ctx_train())


def on_each_sample(llm: Any, callback: Callable[[int], None]) -> None:
    """Call ``callback`` with every token this ``Llama`` samples: ``Llama.generate`` samples
    each token through ``self.sample``, so an instance attribute wraps it for this model."""
    sample = llm.sample

    def counted(*args: Any, **kwargs: Any) -> Any:
        token = sample(*args, **kwargs)
        callback(token)
        return token

    llm.sample = counted


def token_text(llm: Any, token: int) -> str:
    """A token's text as the model's chat template sees it (``bos_token``, ``eos_token``)."""
    return str(llm._model.token_get_text(token))


def last_logits(llm: Any) -> Any:
    """The logits (a numpy view of ``n_vocab`` floats, valid until the next decode) of the last
    token the ``Llama`` decoded: ``llama_get_logits_ith(ctx, -1)`` of llama.h, which
    ``Llama`` itself reads only inside its sampler."""
    import numpy as np

    row = bindings().llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(row, shape=(llm.n_vocab(),))


@contextlib.contextmanager
def logits_on_every_row(llm: Any) -> Iterator[None]:
    """Within: ``Llama.eval`` asks llama.cpp for the logits of every row of a batch, as it
    does while drafting (``_logits_all``), whatever the model was loaded with."""
    every_row = llm._logits_all
    llm._logits_all = True
    try:
        yield
    finally:
        llm._logits_all = every_row


def start_drafting(llm: Any, drafter: Any) -> None:
    """Turn drafting on for a ``Llama`` loaded without it: what its constructor sets up for a
    ``draft_model`` with ``logits_all`` (a row of logits kept per token of the context)."""
    import numpy as np

    llm._logits_all = True
    llm.scores = np.ndarray((llm.n_ctx(), llm.n_vocab()), dtype=np.single)
    llm.draft_model = drafter


def abort_callback(should_abort: Callable[[], bool]) -> Any:
    """A ggml abort callback calling ``should_abort``; keep it referenced while it is set."""
    return bindings().ggml_abort_callback(lambda _data: should_abort())


def set_abort_callback(llm: Any, callback: Any | None) -> None:
    """Let llama.cpp ask ``callback`` (from ``abort_callback``) after every node of the graph
    while it decodes for the ``Llama``'s private context; ``None`` turns it off."""
    lib = bindings()
    if callback is None:
        # ctypes.cast(None, ...) is a NULL callback: typeshed does not list None as castable.
        callback = ctypes.cast(None, lib.ggml_abort_callback)  # type: ignore[arg-type]
    lib.llama_set_abort_callback(llm._ctx.ctx, callback, ctypes.c_void_p(0))


class _BuftOverride(ctypes.Structure):
    """llama.h's ``llama_model_tensor_buft_override``: a regex on tensor names, a buffer type."""

    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


def _cpu_overrides(patterns: tuple[str, ...]) -> Any:
    """A NULL-terminated array of overrides putting tensors matching ``patterns`` in RAM."""
    lib = ggml_device_registry()
    lib.ggml_backend_dev_by_type.restype = ctypes.c_void_p
    lib.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
    lib.ggml_backend_dev_buffer_type.restype = ctypes.c_void_p
    lib.ggml_backend_dev_buffer_type.argtypes = [ctypes.c_void_p]
    cpu = lib.ggml_backend_dev_buffer_type(lib.ggml_backend_dev_by_type(0))  # DEVICE_TYPE_CPU
    rows = [_BuftOverride(p.encode(), cpu) for p in patterns]
    return (_BuftOverride * (len(rows) + 1))(*rows, _BuftOverride(None, None))


@contextlib.contextmanager
def load_progress(
    progress: Callable[[float], None] | None,
    cancel: threading.Event | None,
    cpu_tensors: tuple[str, ...] = (),
) -> Iterator[None]:
    """Give llama.cpp a progress callback for the next load (returning False cancels it), and
    keep the tensors whose names match a ``cpu_tensors`` regex in RAM (as llama.cpp's
    ``--override-tensor PATTERN=CPU``).

    llama-cpp-python exposes neither ``llama_model_params.progress_callback`` nor
    ``tensor_buft_overrides``; ``Llama`` builds the params with
    ``llama_model_default_params()``, so that function is wrapped for the duration of one load
    (one at a time, under ``_LOAD_LOCK``).
    """
    if progress is None and cancel is None and not cpu_tensors:
        yield
        return
    lib: Any = bindings()  # its function is replaced for the load

    def on_progress(value: float, _data: object) -> bool:
        if progress is not None:
            progress(float(value))
        return not (cancel is not None and cancel.is_set())

    callback = lib.llama_progress_callback(on_progress)
    overrides = _cpu_overrides(cpu_tensors) if cpu_tensors else None  # alive for the load

    with _LOAD_LOCK:  # read the original under the lock: another load may have wrapped it
        original = lib.llama_model_default_params

        def with_progress() -> Any:
            params = original()
            params.progress_callback = callback
            if overrides is not None:
                params.tensor_buft_overrides = ctypes.cast(overrides, ctypes.c_void_p).value
            return params

        lib.llama_model_default_params = with_progress
        try:
            yield
        finally:
            lib.llama_model_default_params = original


_LOAD_LOCK = threading.Lock()


def chat_formatter_class() -> type[Any]:
    """``llama_chat_format.Jinja2ChatFormatter``: the class Hearth's guarded formatter extends
    (it replaces ``_environment``, the compiled template whose ``render`` ``__call__`` calls)
    and whose ``IgnoreGenerationTags`` extension and ``tojson`` filter the sandbox reuses."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter


@contextlib.contextmanager
def chat_formatter_swapped(formatter_class: type[Any]) -> Iterator[None]:
    """While a ``Llama`` is built, its chat handlers are made with ``formatter_class``:
    ``Llama.__init__`` compiles every template in the file's metadata with
    ``llama_chat_format.Jinja2ChatFormatter``, looked up on the module at call time; swapping
    that name for the load is the only way in."""
    from llama_cpp import llama_chat_format

    with _SWAP_LOCK:
        original = llama_chat_format.Jinja2ChatFormatter
        llama_chat_format.Jinja2ChatFormatter = formatter_class  # type: ignore[misc]
        try:
            yield
        finally:
            llama_chat_format.Jinja2ChatFormatter = original  # type: ignore[misc]


_SWAP_LOCK = threading.Lock()


def attach_projector(llm: Any, mmproj: str, pixels: Callable[[bytes], Pixels]) -> None:
    """Let ``llm`` take images: llama-cpp-python's ``MTMDChatHandler`` (its multimodal chat
    handler over llama.cpp's mtmd) with the image projector ``mmproj``, set as the model's chat
    handler. Each image reaches mtmd as the pixels ``pixels`` decodes from its bytes
    (``(width, height, RGB bytes)``; it raises for a picture it cannot decode), through
    ``mtmd_bitmap_init``, never as the bytes themselves: mtmd's own reader tries what it
    cannot read as a picture as audio, then as video with ``ffprobe`` and ``ffmpeg``. Its mtmd
    context is made now (the private ``_init_mtmd_context``), so a projector that does not fit
    the model fails the load, not the first chat; mtmd's log joins
    llama.cpp's. The handler stays ``verbose``: its quiet mode redirects file descriptors 1
    and 2 as ``Llama``'s does, so it prints the rendered prompt to ``sys.stderr`` instead
    (the engine keeps that in its log). It renders the chat with the model's template in its
    own Jinja sandbox, not Hearth's guarded one. Raises ``ValueError`` when llama.cpp cannot
    load the projector."""
    from llama_cpp import mtmd_cpp

    route_log_to_logging()
    mtmd_cpp.mtmd_log_set(_callback, None)
    mtmd_cpp.mtmd_helper_log_set(_callback, None)
    handler = _handler_class()(clip_model_path=mmproj, verbose=True)
    handler.pixels = pixels
    quiet, llm.verbose = llm.verbose, True  # the handler copies it on its first use
    try:
        handler._init_mtmd_context(llm)
    finally:
        llm.verbose = quiet
    llm.chat_handler = handler


# An image's pixels: width, height, and its rows as RGB, 3 bytes a pixel.
Pixels = tuple[int, int, bytes]


@functools.cache
def _handler_class() -> type[Any]:
    """``MTMDChatHandler`` that stays verbose (the original copies ``Llama.verbose``, False
    once Hearth has loaded a model, on every chat, in ``_init_mtmd_context``) and builds each
    image's bitmap from decoded pixels (``_create_bitmap_from_bytes``, which both the chat and
    ``image_tokens`` call, otherwise hands the bytes to ``mtmd_helper_bitmap_init_from_buf``)."""
    from llama_cpp.llama_chat_format import MTMDChatHandler

    class PixelMTMDChatHandler(MTMDChatHandler):
        pixels: Callable[[bytes], Pixels]

        def _init_mtmd_context(self, llama_model: Any) -> None:
            super()._init_mtmd_context(llama_model)
            self.verbose = True

        def _create_bitmap_from_bytes(self, image_bytes: bytes) -> Any:
            if self.mtmd_ctx is None:
                raise ValueError("mtmd context not initialized")
            width, height, rgb = self.pixels(image_bytes)
            if len(rgb) != width * height * 3:
                raise ValueError("The image's pixels are not its size in RGB")
            # A pointer into the bytes, not a copy (up to 150 MB): mtmd copies them
            data = ctypes.cast(ctypes.c_char_p(rgb), ctypes.POINTER(ctypes.c_uint8))
            bitmap = self._mtmd_cpp.mtmd_bitmap_init(width, height, data)
            if bitmap is None:
                raise ValueError("Failed to create bitmap from image pixels")
            return bitmap

    return PixelMTMDChatHandler


def image_tokens(llm: Any, data_url: str) -> int:
    """The tokens one image takes in the context of ``llm`` (loaded with ``attach_projector``),
    as mtmd tokenizes it without encoding it: its size decides for models of dynamic
    resolution, and the tokens some models put around an image count too. Through the
    handler's ``mtmd_ctx``, ``load_image`` and ``_create_bitmap_from_bytes``; raises
    ``ValueError`` for an image it cannot read."""
    handler = llm.chat_handler
    mtmd = handler._mtmd_cpp
    bitmap = handler._create_bitmap_from_bytes(handler.load_image(data_url))
    try:
        marker = mtmd.mtmd_default_marker()
        text = mtmd.mtmd_input_text()
        text.text, text.text_len = marker, len(marker)
        text.add_special, text.parse_special = False, True
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            bitmaps = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
            if mtmd.mtmd_tokenize(handler.mtmd_ctx, chunks, ctypes.byref(text), bitmaps, 1):
                raise ValueError("The image could not be tokenized")
            return sum(
                int(mtmd.mtmd_input_chunk_get_n_tokens(mtmd.mtmd_input_chunks_get(chunks, i)))
                for i in range(mtmd.mtmd_input_chunks_size(chunks))
            )
        finally:
            mtmd.mtmd_input_chunks_free(chunks)
    finally:
        mtmd.mtmd_bitmap_free(bitmap)
