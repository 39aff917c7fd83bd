"""Pins the private and low-level parts of llama-cpp-python that Hearth uses (through
``app.core.compat.llama_cpp`` only), on the installed version and the real starter model."""

from __future__ import annotations

import ctypes
import functools
import logging
import re
import threading
from pathlib import Path

import llama_cpp
import pytest
from llama_cpp import llama_chat_format

from app.core.compat.llama_cpp import (
    abort_callback,
    bindings,
    buffer_sizes,
    chat_formatter_class,
    chat_formatter_swapped,
    chat_handler_names,
    ggml_device_registry,
    host_bytes,
    is_end_of_generation,
    last_logits,
    load_progress,
    model_quantize,
    n_ctx_train,
    on_each_sample,
    recent_log,
    route_log_to_logging,
    set_abort_callback,
    token_text,
)
from app.core.gguf import quant_types
from app.core.gguf.header import read_local_header


def _load(path: Path) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=2, verbose=True)


@pytest.fixture(scope="module")
def llm(starter_gguf: Path) -> llama_cpp.Llama:
    route_log_to_logging()
    return _load(starter_gguf)


def test_the_log_callback_routes_llama_cpp_lines_to_logging(
    starter_gguf: Path, caplog: pytest.LogCaptureFixture
) -> None:
    route_log_to_logging()
    with caplog.at_level(logging.DEBUG, logger="hearth.llama"):
        _load(starter_gguf)
    lines = [r.getMessage() for r in caplog.records if r.name == "hearth.llama"]
    assert any("SmolLM2" in line for line in lines)  # the loader names the model it reads
    assert lines[-1] in recent_log()


def test_the_buffers_llama_cpp_allocates_are_read_from_its_log(starter_gguf: Path) -> None:
    """Measuring's memory figure: weights, KV cache, compute and output buffers as llama.cpp
    reports them at a load, on the thread that loads only."""
    route_log_to_logging()
    with buffer_sizes() as sizes:
        _load(starter_gguf)
    assert {"CPU KV", "CPU compute", "CPU output"} <= set(sizes)
    weights = sum(t.nbytes for t in read_local_header(starter_gguf).tensors)
    mapped = sum(n for name, n in sizes.items() if name.endswith(" model"))
    assert abs(mapped - weights) < 2**20  # within the log's two decimals of a MiB
    assert host_bytes(sizes) == sum(sizes.values()) > weights  # all in this computer's memory
    assert host_bytes({"CUDA0 model": 10, "CUDA_Host output": 2, "CPU KV": 1}) == 3

    with buffer_sizes() as elsewhere:  # another thread's load is not this block's
        loader = threading.Thread(target=_load, args=(starter_gguf,))
        loader.start()
        loader.join()
    assert elsewhere == {}


def test_private_model_parts_answer_as_the_model_file_says(llm: llama_cpp.Llama) -> None:
    assert "chat_template.default" in chat_handler_names(llm)
    assert n_ctx_train(llm) == int(llm.metadata["llama.context_length"])
    assert token_text(llm, llm.token_eos()) == "<|im_end|>"
    assert token_text(llm, llm.token_bos()) == "<|im_start|>"
    assert is_end_of_generation(llm, llm.token_eos())
    assert not is_end_of_generation(llm, llm.tokenize(b"Paris", add_bos=False)[0])
    assert not is_end_of_generation(llm, -1)


def test_every_sampled_token_reaches_the_hook(llm: llama_cpp.Llama) -> None:
    sampled: list[int] = []
    on_each_sample(llm, sampled.append)
    result = llm.create_completion("The capital of France is", max_tokens=4, temperature=0)
    assert len(sampled) == result["usage"]["completion_tokens"] == 4
    assert llm.detokenize(sampled).decode() == result["choices"][0]["text"]


def test_the_last_logits_are_the_decoded_token_s_whose_best_greedy_answering_picks(
    llm: llama_cpp.Llama,
) -> None:
    """A draft model's guess: the top of ``last_logits`` is what greedy sampling answers."""
    llm.reset()
    llm.eval(llm.tokenize(b"The capital of France is", add_bos=False))
    logits = last_logits(llm)
    assert logits.shape == (llm.n_vocab(),)
    best = int(logits.argmax())
    answer = llm.create_completion("The capital of France is", max_tokens=1, temperature=0)
    assert llm.detokenize([best]).decode() == answer["choices"][0]["text"]


def test_the_abort_callback_stops_a_decode_and_can_be_turned_off(llm: llama_cpp.Llama) -> None:
    asked = threading.Event()

    def should_abort() -> bool:
        asked.set()
        return True

    callback = abort_callback(should_abort)
    set_abort_callback(llm, callback)
    llm.reset()
    with pytest.raises(RuntimeError, match="llama_decode returned 2"):
        llm.create_completion("A prompt to decode", max_tokens=2, temperature=0)
    assert asked.is_set()
    set_abort_callback(llm, None)
    llm.reset()
    assert llm.create_completion("Hello", max_tokens=2, temperature=0)["usage"]["total_tokens"]


def test_load_progress_reports_to_one_and_cancels_the_load(starter_gguf: Path) -> None:
    values: list[float] = []
    with load_progress(values.append, None):
        _load(starter_gguf)
    assert values[0] == 0.0 and values[-1] == 1.0 and values == sorted(values)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ValueError), load_progress(None, cancel):
        _load(starter_gguf)
    original = bindings().llama_model_default_params
    with load_progress(values.append, None):
        assert bindings().llama_model_default_params is not original
    assert bindings().llama_model_default_params is original


def test_tensor_buffer_overrides_keep_the_matching_tensors_in_ram(
    starter_gguf: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``llama_model_params.tensor_buft_overrides`` is a bare pointer in the bindings: the
    array Hearth builds must be what llama.cpp reads (its log names each tensor it moves)."""
    assert dict(llama_cpp.llama_model_params._fields_)["tensor_buft_overrides"] is ctypes.c_void_p
    route_log_to_logging()
    with caplog.at_level(logging.DEBUG, logger="hearth.llama"):
        with load_progress(None, None, (r"blk\.1\.ffn_(up|down)",)):
            _load(starter_gguf)
    moved = re.findall(r"tensor (\S+) \(.*buffer type overridden to CPU", caplog.text)
    assert sorted(moved) == ["blk.1.ffn_down.weight", "blk.1.ffn_up.weight"]


def test_llama_builds_its_chat_handlers_with_the_swapped_formatter(starter_gguf: Path) -> None:
    made: list[str] = []
    parent = chat_formatter_class()

    class Recording(parent):  # type: ignore[misc,valid-type]
        def __init__(self, template: str, *args: object, **kwargs: object) -> None:
            made.append(template)
            super().__init__(template, *args, **kwargs)

    original = llama_chat_format.Jinja2ChatFormatter
    with chat_formatter_swapped(Recording):
        _load(starter_gguf)
    assert llama_chat_format.Jinja2ChatFormatter is original
    assert len(made) == 1 and "<|im_start|>" in made[0]  # the file's own template


def test_the_formatter_renders_through_its_private_environment() -> None:
    formatter_class = chat_formatter_class()
    assert formatter_class is llama_chat_format.Jinja2ChatFormatter
    formatter = formatter_class(template="{{ messages[0].content }}!", eos_token="E", bos_token="B")

    class Stub:
        def render(self, **context: object) -> str:
            return f"rendered {len(context['messages'])}"  # type: ignore[arg-type]

    formatter._environment = Stub()
    response = formatter(messages=[{"role": "user", "content": "hi"}])
    assert response.prompt == "rendered 1" and response.stop == ["E"]
    assert formatter_class.IgnoreGenerationTags.tags == {"generation"}
    assert formatter_class.tojson({"a": 1}) == '{"a": 1}'


def test_the_quantizer_writes_the_asked_type_or_returns_an_error_code(
    quant_ladder: dict[str, Path], tmp_path: Path
) -> None:
    target = tmp_path / "model-Q4_0.gguf"
    assert model_quantize(quant_ladder["F16"], target, 2, 2) == 0  # LLAMA_FTYPE_MOSTLY_Q4_0
    assert quant_types.quant_from_file_type(read_local_header(target).file_type) == "Q4_0"
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("not a model")
    assert model_quantize(not_a_model, tmp_path / "out.gguf", 2, 2) != 0
    assert not (tmp_path / "out.gguf").exists()


def test_the_device_registry_lists_devices_with_their_memory() -> None:
    import ctypes

    lib = ggml_device_registry()
    count = lib.ggml_backend_dev_count()
    assert count >= 1  # every build registers at least its CPU device
    for i in range(count):
        device = lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        lib.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
        assert lib.ggml_backend_dev_name(device)
        assert lib.ggml_backend_dev_type(device) in (0, 1, 2, 3)  # CPU, GPU, IGPU, ACCEL
        assert free.value <= total.value


def test_the_low_level_bindings_have_what_the_measuring_passes_call() -> None:
    lib = bindings()
    assert lib is llama_cpp.llama_cpp
    for name in (
        "llama_backend_init",
        "llama_model_default_params",
        "llama_model_load_from_file",
        "llama_model_get_vocab",
        "llama_vocab_n_tokens",
        "llama_vocab_get_add_bos",
        "llama_vocab_bos",
        "llama_tokenize",
        "llama_context_default_params",
        "llama_init_from_model",
        "llama_batch_init",
        "llama_batch_free",
        "llama_memory_clear",
        "llama_get_memory",
        "llama_decode",
        "llama_get_logits",
        "llama_set_abort_callback",
        "ggml_abort_callback",
        "llama_free",
        "llama_model_free",
        "llama_print_system_info",
        "llama_supports_gpu_offload",
    ):
        assert callable(getattr(lib, name)), name
    assert len(lib.llama_tokenize.argtypes) == 7
    assert hasattr(lib, "LLAMA_FLASH_ATTN_TYPE_DISABLED")


def test_a_projector_attached_holds_its_mtmd_context_from_the_load(starter_gguf: Path) -> None:
    """``attach_projector`` reaches ``MTMDChatHandler._init_mtmd_context`` and its
    ``mtmd_ctx`` (and keeps the handler verbose: quiet, it would redirect file descriptors 1
    and 2); the context is freed with the model."""
    from app.bench.zoo.vision import vision_pair
    from app.core.compat.llama_cpp import attach_projector
    from app.core.inference.image_pixels import rgb_pixels
    from tests.conftest import cache_root

    pair = vision_pair(starter_gguf, cache_root() / "zoo")
    model = llama_cpp.Llama(model_path=str(pair.model), n_ctx=256, verbose=True)
    model.verbose = False
    attach_projector(model, str(pair.mmproj), rgb_pixels)
    handler = model.chat_handler
    assert isinstance(handler, llama_chat_format.MTMDChatHandler)
    assert handler.mtmd_ctx is not None and model.verbose is False
    handler._init_mtmd_context(model)  # as every chat does: the handler stays verbose
    assert handler.verbose is True
    model.close()
    assert handler.mtmd_ctx is None


def test_images_reach_mtmd_as_pixels_through_the_handlers_bitmap_hook(starter_gguf: Path) -> None:
    """``MTMDChatHandler`` makes each image's bitmap in ``_create_bitmap_from_bytes``, in its
    chat and in ``image_tokens``; Hearth's handler builds it there with ``mtmd_bitmap_init``
    (width, height, RGB bytes) from the pixels it is given, never from the file's bytes."""
    import base64
    import inspect

    from llama_cpp import mtmd_cpp

    from app.bench.zoo.vision import IMAGE_TOKENS, vision_pair
    from app.core.compat.llama_cpp import attach_projector, image_tokens
    from app.core.inference.image_pixels import rgb_pixels
    from tests.conftest import cache_root
    from tests.faults.image_forge import PICTURES

    assert "self._create_bitmap_from_bytes(" in inspect.getsource(
        llama_chat_format.MTMDChatHandler.__call__
    )
    assert mtmd_cpp.mtmd_bitmap_init.argtypes == [
        ctypes.c_uint32,
        ctypes.c_uint32,
        ctypes.POINTER(ctypes.c_uint8),
    ]
    decoded: list[bytes] = []

    def pixels(data: bytes) -> tuple[int, int, bytes]:
        decoded.append(data)
        return rgb_pixels(data)

    pair = vision_pair(starter_gguf, cache_root() / "zoo")
    model = llama_cpp.Llama(model_path=str(pair.model), n_ctx=256, verbose=True)
    attach_projector(model, str(pair.mmproj), pixels)
    handler = model.chat_handler
    try:
        for kind, data in sorted(PICTURES.items()):
            url = f"data:image/{kind};base64," + base64.b64encode(data).decode()
            tokens = image_tokens(model, url)
            assert decoded[-1] == data
            assert tokens >= IMAGE_TOKENS
            # mtmd's own reader (stb_image), on good pictures only: the same pixels, so the
            # same tokens
            ours = handler._create_bitmap_from_bytes(data)
            theirs = llama_chat_format.MTMDChatHandler._create_bitmap_from_bytes(handler, data)
            try:
                assert _bitmap(ours) == _bitmap(theirs), kind
            finally:
                mtmd_cpp.mtmd_bitmap_free(ours)
                mtmd_cpp.mtmd_bitmap_free(theirs)
            handler._create_bitmap_from_bytes = functools.partial(
                llama_chat_format.MTMDChatHandler._create_bitmap_from_bytes, handler
            )
            try:
                assert image_tokens(model, url) == tokens, kind
            finally:
                del handler._create_bitmap_from_bytes
    finally:
        model.close()


def _bitmap(bitmap) -> tuple[int, int, bytes]:
    from llama_cpp import mtmd_cpp

    size = mtmd_cpp.mtmd_bitmap_get_n_bytes(bitmap)
    data = ctypes.string_at(mtmd_cpp.mtmd_bitmap_get_data(bitmap), size)
    return mtmd_cpp.mtmd_bitmap_get_nx(bitmap), mtmd_cpp.mtmd_bitmap_get_ny(bitmap), data
