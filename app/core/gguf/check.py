"""Hearth's own check of a GGUF file, run before llama.cpp sees it.

llama.cpp trusts much of a GGUF header: a damaged or hostile file can make it abort the whole
process (type assertions in gguf.cpp), read past an array (tokenizer arrays of different
lengths) or reserve memory without bound. ``check_file(path)`` refuses such a file with a
message naming the problem, from the header alone (read by
:func:`app.core.gguf.header.read_local_header`, which already refuses a bad magic, a version
other than 2 or 3, a header cut short, lengths and counts past the end of the file or past sane
caps, a key given twice, more than 4 dimensions and a bad alignment). Here:

* tensors: a name empty, too long or given twice; no dimensions; an impossible element count;
  an unknown ggml type; rows that are not whole blocks of their type; data offsets that are not
  aligned, overlap, or run past the end of the file;
* well-known keys of the wrong type (llama.cpp asserts on them) and tokenizer arrays of
  different lengths;
* hyperparameters out of llama.cpp's ranges, and files that are no model (a LoRA adapter, a
  vision projector): :func:`app.core.gguf.ranges.hyperparameter_problem`;
* every other part of a split model: each one's own header and tensors, as above;
* chat templates (``tokenizer.chat_template`` and named ones): compiled and rendered on sample
  conversations in the guarded sandbox under the budget (:mod:`app.core.templates.render`), the
  same render llama-cpp-python is given at load. An attempt to leave the sandbox, a template
  that breaks the budget, cannot render or renders nothing is refused as "unsafe or broken".
  Nothing in a template ever runs outside the sandbox.
"""

from __future__ import annotations

import logging
from itertools import pairwise
from pathlib import Path
from typing import NoReturn

from app.core.common.errors import InvalidModelFile, ModelFileError
from app.core.gguf.header import GgufHeader, read_local_header, type_size
from app.core.gguf.ranges import hyperparameter_problem, projector_problem
from app.core.gguf.split import split_names
from app.core.templates.budget import TEMPLATE_SECONDS
from app.core.templates.render import (
    EMPTY,
    UNSAFE,
    TemplateFailure,
    compile_guarded,
    render_args,
    render_guarded,
)

log = logging.getLogger("hearth.gguf_check")

MAX_NAME_BYTES = 63  # GGML_MAX_NAME (64) with its terminating NUL
MAX_ELEMENTS = 2**62

_STRING, _ARRAY, _U32, _I32, _F32 = 8, 9, 4, 5, 6
EXPECTED_KINDS = {  # what llama.cpp reads with a type assertion, or as raw arrays
    "general.alignment": (_U32,),
    "general.architecture": (_STRING,),
    "tokenizer.ggml.model": (_STRING,),
    "tokenizer.ggml.tokens": (_ARRAY, _STRING),
    "tokenizer.ggml.scores": (_ARRAY, _F32),
    "tokenizer.ggml.token_type": (_ARRAY, _I32),
    "tokenizer.ggml.merges": (_ARRAY, _STRING),
}
SAMPLE_CHATS = (
    [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ],
    [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "Tell me a joke."},
    ],
    [{"role": "user", "content": "Hello"}],
)
DAMAGED = "It is damaged or not a model file: download it again, or choose another file."


def check_file(path: Path) -> None:
    """Refuse ``path`` (``InvalidModelFile``, a ``ModelFileError``) unless it is a GGUF file
    that is safe to hand to llama.cpp. Reads only the header."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"The model file {path} does not exist."
            if not path.exists()
            else f"{path} is not a file."
        )
    size = path.stat().st_size
    if size == 0:
        _refuse(path, "the file is empty (0 bytes).")
    for shard in _special_shards(path):
        _refuse(
            path,
            f"its part {shard.name} is empty or not a regular file (a pipe, a "
            "device, a link into /proc): llama.cpp could wait on it forever.",
            "Put the real file there, or download the model again.",
        )
    try:
        header = read_local_header(path)
    except ModelFileError as exc:
        _refuse(path, str(exc))
    problem = structure_problem(header, size) or _shard_problem(path) or template_problem_of(header)
    if problem:
        _refuse(path, problem, "" if problem.startswith("Its chat template") else DAMAGED)
    log.debug("%s passed the GGUF check", path.name)


def check_projector(path: Path) -> None:
    """Refuse ``path`` (``InvalidModelFile``) unless it is an image projector (an mmproj GGUF,
    llama.cpp's ``clip`` architecture) whose keys and tensors are whole: the model check's
    structure part, without the hyperparameters of a model it has not. Reads only the header."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise ModelFileError(f"The image projector {path} does not exist or is empty.")
    try:
        header = read_local_header(path)
    except ModelFileError as exc:
        _refuse(path, str(exc))
    if header.get("general.architecture") != "clip":
        _refuse(
            path,
            "it is not an image projector (an mmproj file).",
            "Choose the mmproj file from the model's repo.",
        )
    problem = (
        _kinds_problem(header)
        or _tensor_problem(header, path.stat().st_size)
        or projector_problem(header)
    )
    if problem:
        _refuse(path, problem)


def header_problem(header: GgufHeader, file_size: int | None) -> str | None:
    """The check for a header read from elsewhere (a file on the Hub, its size maybe unknown):
    keys, hyperparameters and, when the size is known, tensors; not the chat template."""
    if file_size is None:
        return _kinds_problem(header) or hyperparameter_problem(header)
    return structure_problem(header, file_size)


def problem_of(path: Path) -> str | None:
    """Why Hearth will not load ``path`` (the sentence ``check_file`` refuses it with), or None
    when it passes: for lists that show a damaged file rather than hide it."""
    try:
        check_file(path)
    except ModelFileError as exc:
        return str(exc)
    return None


def _shard_problem(path: Path) -> str | None:
    """The first problem in the other parts of a split model: each part has its own header
    (the split keys) and its own tensors, checked against its own size."""
    for name in split_names(path.name):
        shard = path.with_name(name)
        if shard == path or not shard.is_file():
            continue  # a missing part: llama.cpp says so itself
        try:
            header = read_local_header(shard)
            problem = _kinds_problem(header) or _tensor_problem(header, shard.stat().st_size)
        except (ModelFileError, OSError) as exc:
            problem = str(exc)
        if problem:
            return f"its part {shard.name} is damaged: {problem[:1].lower()}{problem[1:]}"
    return None


def _special_shards(path: Path) -> list[Path]:
    """The other parts of a split model that exist but are not regular files (checked with
    ``stat`` only: opening a FIFO blocks until a writer comes)."""
    found = []
    for name in split_names(path.name):
        shard = path.with_name(name)
        if shard == path or not (shard.exists() or shard.is_symlink()):
            continue  # a missing part: llama.cpp says so itself
        if not shard.is_file() or shard.stat().st_size == 0:
            found.append(shard)
    return found


def _refuse(path: Path, problem: str, advice: str = DAMAGED) -> NoReturn:
    log.info("Refused %s: %s", path, problem)
    text = problem if problem.startswith(path.name) else problem[:1].upper() + problem[1:]
    raise InvalidModelFile(
        " ".join(part for part in (f"Hearth refused {path.name}.", text, advice) if part)
    )


# -- structure ---------------------------------------------------------------------------------


def structure_problem(header: GgufHeader, file_size: int) -> str | None:
    """What is wrong with the header's keys and tensors for a file of ``file_size`` bytes."""
    return (
        _kinds_problem(header)
        or hyperparameter_problem(header)
        or _tensor_problem(header, file_size)
    )


def adapter_problem(header: GgufHeader, file_size: int) -> str | None:
    """``structure_problem`` for a file llama.cpp reads beside a model (a LoRA adapter), whose
    hyperparameters are the model's."""
    return _kinds_problem(header) or _tensor_problem(header, file_size)


def _kinds_problem(header: GgufHeader) -> str | None:
    for key, expected in EXPECTED_KINDS.items():
        kind = header.kinds.get(key)
        if kind is not None and kind != expected:
            return (
                f"the key {key} has the wrong type ({_kind_name(kind)}, not "
                f"{_kind_name(expected)})."
            )
    for template_key in _template_keys(header):
        if header.kinds.get(template_key) != (_STRING,):
            return f"the chat template {template_key} is not text."
    tokens = header.array_lengths.get("tokenizer.ggml.tokens")
    for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        count = header.array_lengths.get(key)
        if count is not None and count != tokens:
            return (
                f"the tokenizer arrays disagree: {key} has {count:,} item(s) for "
                f"{tokens or 0:,} token(s)."
            )
    return None


def _tensor_problem(header: GgufHeader, file_size: int) -> str | None:
    alignment = header.get("general.alignment", 32)
    seen: set[str] = set()
    spans = []
    for tensor in header.tensors:
        name = tensor.name
        if not name:
            return "a tensor has no name."
        if len(name.encode()) > MAX_NAME_BYTES:
            return f"the tensor name {name[:40]!r}... is longer than {MAX_NAME_BYTES} bytes."
        if name in seen:
            return f"the tensor {name!r} appears twice."
        seen.add(name)
        if not tensor.shape:
            return f"the tensor {name!r} has 0 dimensions."
        if tensor.n_elements >= MAX_ELEMENTS or any(d >= MAX_ELEMENTS for d in tensor.shape):
            return f"the tensor {name!r} claims an impossible shape {tensor.shape}."
        try:
            block, _ = type_size(tensor.ggml_type)
        except ModelFileError:
            return f"the tensor {name!r} has an unknown ggml type ({tensor.ggml_type})."
        if tensor.shape[0] % block:
            return (
                f"the rows of tensor {name!r} ({tensor.shape[0]:,} values) are not whole "
                f"blocks of {block} values of its type."
            )
        if tensor.offset % alignment:
            return (
                f"the data offset of tensor {name!r} ({tensor.offset:,}) is not aligned to "
                f"{alignment} bytes."
            )
        end = header.data_offset + tensor.offset + tensor.nbytes
        if end > file_size:
            return (
                f"the tensor {name!r} runs past the end of the file (its data ends at byte "
                f"{end:,} of a {file_size:,}-byte file): the file is truncated or damaged."
            )
        spans.append((tensor.offset, tensor.offset + tensor.nbytes, name))
    spans.sort()
    for (_, end, first), (start, _, second) in pairwise(spans):
        if start < end:
            return f"the data of tensors {first!r} and {second!r} overlap."
    return None


def _kind_name(kind: tuple[int, ...]) -> str:
    names = {
        0: "u8",
        1: "i8",
        2: "u16",
        3: "i16",
        4: "u32",
        5: "i32",
        6: "f32",
        7: "bool",
        8: "string",
        10: "u64",
        11: "i64",
        12: "f64",
    }
    if kind[0] == _ARRAY:
        return f"array of {names.get(kind[1], kind[1]) if len(kind) > 1 else '?'}"
    return str(names.get(kind[0], kind[0]))


def _template_keys(header: GgufHeader) -> list[str]:
    return [
        key
        for key in header.fields
        if key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template.")
    ]


# -- chat templates ----------------------------------------------------------------------------


def template_problem_of(header: GgufHeader) -> str | None:
    """The problem with the header's chat templates ("Its chat template ..."), or None."""
    bos, eos = _special_token(header, "bos", "<s>"), _special_token(header, "eos", "</s>")
    for key in _template_keys(header):
        problem = template_problem(str(header.fields[key]), bos, eos)
        if problem:
            return UNSAFE.format(problem=problem)
    return None


def _special_token(header: GgufHeader, which: str, default: str) -> str:
    tokens = header.get("tokenizer.ggml.tokens")  # None for long vocabularies (length only)
    index = header.get(f"tokenizer.ggml.{which}_token_id")
    if isinstance(tokens, list) and isinstance(index, int) and 0 <= index < len(tokens):
        return str(tokens[index])
    return default


def template_problem(
    template: str, bos: str = "<s>", eos: str = "</s>", *, seconds: float = TEMPLATE_SECONDS
) -> str | None:
    """Render ``template`` on sample chats; None when it renders, else what went wrong.

    Compiled and rendered in the guarded sandbox under the budget
    (:mod:`app.core.templates.render`), as llama-cpp-python will render it: at load its own
    formatter is swapped for the guarded one, so nothing here needs to run unguarded."""
    try:
        compiled = compile_guarded(template, seconds)
        failure = "it fails"  # the last sample chat's failure, as TemplateFailure says it
        for messages in SAMPLE_CHATS:
            try:
                prompt = render_guarded(compiled, render_args(messages, bos, eos), seconds)
            except TemplateFailure as exc:
                if not exc.problem.startswith("it fails ("):
                    raise  # the sandbox or the budget: refused whatever the conversation
                failure = exc.problem
                continue
            return None if prompt else f"{EMPTY} for a plain conversation"
        return f"it fails on a plain conversation{failure[len('it fails') :]}"
    except TemplateFailure as exc:
        return exc.problem
