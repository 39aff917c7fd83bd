"""Hearth's own check of a GGUF file, run before llama.cpp sees it.

llama.cpp trusts much of a GGUF header: a damaged or hostile file can make it abort the whole
process (type assertions in gguf.cpp), read past an array (tokenizer arrays of different
lengths) or reserve memory without bound. ``check_file(path)`` refuses such a file with a
message naming the problem, from the header alone (read by
:func:`app.core.gguf_remote.read_local_header`, which already refuses a bad magic, a version
other than 2 or 3, a header cut short, lengths and counts past the end of the file or past sane
caps, a key given twice, more than 4 dimensions and a bad alignment). Here:

* tensors: a name empty, too long or given twice; no dimensions; an impossible element count;
  an unknown ggml type; rows that are not whole blocks of their type; data offsets that are not
  aligned, overlap, or run past the end of the file;
* well-known keys of the wrong type (llama.cpp asserts on them) and tokenizer arrays of
  different lengths;
* hyperparameters out of llama.cpp's ranges, and files that are no model (a LoRA adapter, a
  vision projector): :func:`app.core.gguf_ranges.hyperparameter_problem`;
* every other part of a split model: each one's own header and tensors, as above;
* chat templates (``tokenizer.chat_template`` and named ones): rendered on sample conversations,
  first in a guarded sandbox (:func:`guarded_sandbox`: llama-cpp-python's sandbox, plus limits
  on sizes, time and memory), then by llama-cpp-python's own ``Jinja2ChatFormatter``. An
  attempt to leave the sandbox, or a template that cannot render, is refused as "unsafe or
  broken". Nothing in a template ever runs outside the sandbox.
"""

from __future__ import annotations

import logging
import os
import re
import string
import sys
import time
from functools import cache, wraps
from itertools import pairwise
from pathlib import Path

from app.core.errors import InvalidModelFile, ModelFileError
from app.core.gguf_ranges import hyperparameter_problem
from app.core.gguf_remote import GgufHeader, read_local_header, type_size

log = logging.getLogger("hearth.gguf_check")

MAX_NAME_BYTES = 63  # GGML_MAX_NAME (64) with its terminating NUL
MAX_ELEMENTS = 2**62
TEMPLATE_SECONDS = 5.0  # wall clock for rendering all samples; real templates take milliseconds
TEMPLATE_MEMORY = 256 << 20  # growth of the process's resident memory while rendering
MAX_TEMPLATE_CHARS = 1 << 20  # real templates are 0.3-50 kB
MAX_TEMPLATE_NUMBER = 10**6  # a width, a count or a repeat a template may ask for
MAX_TEMPLATE_ITEMS = 10**7  # characters or items a single repetition may build

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
    [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hello"},
     {"role": "assistant", "content": "Hi! How can I help?"},
     {"role": "user", "content": "Tell me a joke."}],
    [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"},
     {"role": "user", "content": "Tell me a joke."}],
    [{"role": "user", "content": "Hello"}],
)
DAMAGED = "It is damaged or not a model file: download it again, or choose another file."
TOO_WIDE = "it asks for a format width too large for a chat template"
UNSAFE = ("Its chat template is unsafe or broken, so Hearth will not use this file: {problem}. "
          "Get the model from another source.")


def check_file(path: Path) -> None:
    """Refuse ``path`` (``InvalidModelFile``, a ``ModelFileError``) unless it is a GGUF file
    that is safe to hand to llama.cpp. Reads only the header."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"The model file {path} does not exist." if not path.exists()
                             else f"{path} is not a file.")
    size = path.stat().st_size
    if size == 0:
        _refuse(path, "the file is empty (0 bytes).")
    for shard in _special_shards(path):
        _refuse(path, f"its part {shard.name} is empty or not a regular file (a pipe, a "
                      "device, a link into /proc): llama.cpp could wait on it forever.",
                "Put the real file there, or download the model again.")
    try:
        header = read_local_header(path)
    except ModelFileError as exc:
        _refuse(path, str(exc))
    problem = structure_problem(header, size) or _shard_problem(path) or \
        template_problem_of(header)
    if problem:
        _refuse(path, problem, "" if problem.startswith("Its chat template") else DAMAGED)
    log.debug("%s passed the GGUF check", path.name)


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
    from app.core.downloads import split_names

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
    from app.core.downloads import split_names

    found = []
    for name in split_names(path.name):
        shard = path.with_name(name)
        if shard == path or not (shard.exists() or shard.is_symlink()):
            continue  # a missing part: llama.cpp says so itself
        if not shard.is_file() or shard.stat().st_size == 0:
            found.append(shard)
    return found


def _refuse(path: Path, problem: str, advice: str = DAMAGED):
    log.info("Refused %s: %s", path, problem)
    text = problem if problem.startswith(path.name) else problem[:1].upper() + problem[1:]
    raise InvalidModelFile(" ".join(part for part in (f"Hearth refused {path.name}.", text, advice)
                                    if part))


# -- structure ---------------------------------------------------------------------------------

def structure_problem(header: GgufHeader, file_size: int) -> str | None:
    """What is wrong with the header's keys and tensors for a file of ``file_size`` bytes."""
    return _kinds_problem(header) or hyperparameter_problem(header) or \
        _tensor_problem(header, file_size)


def _kinds_problem(header: GgufHeader) -> str | None:
    for key, expected in EXPECTED_KINDS.items():
        kind = header.kinds.get(key)
        if kind is not None and kind != expected:
            return f"the key {key} has the wrong type ({_kind_name(kind)}, not " \
                   f"{_kind_name(expected)})."
    for template_key in _template_keys(header):
        if header.kinds.get(template_key) != (_STRING,):
            return f"the chat template {template_key} is not text."
    tokens = header.array_lengths.get("tokenizer.ggml.tokens")
    for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        count = header.array_lengths.get(key)
        if count is not None and count != tokens:
            return f"the tokenizer arrays disagree: {key} has {count:,} item(s) for " \
                   f"{tokens or 0:,} token(s)."
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
            return f"the rows of tensor {name!r} ({tensor.shape[0]:,} values) are not whole " \
                   f"blocks of {block} values of its type."
        if tensor.offset % alignment:
            return f"the data offset of tensor {name!r} ({tensor.offset:,}) is not aligned to " \
                   f"{alignment} bytes."
        end = header.data_offset + tensor.offset + tensor.nbytes
        if end > file_size:
            return f"the tensor {name!r} runs past the end of the file (its data ends at byte " \
                   f"{end:,} of a {file_size:,}-byte file): the file is truncated or damaged."
        spans.append((tensor.offset, tensor.offset + tensor.nbytes, name))
    spans.sort()
    for (_, end, first), (start, _, second) in pairwise(spans):
        if start < end:
            return f"the data of tensors {first!r} and {second!r} overlap."
    return None


def _kind_name(kind: tuple[int, ...]) -> str:
    names = {0: "u8", 1: "i8", 2: "u16", 3: "i16", 4: "u32", 5: "i32", 6: "f32", 7: "bool",
             8: "string", 10: "u64", 11: "i64", 12: "f64"}
    if kind[0] == _ARRAY:
        return f"array of {names.get(kind[1], kind[1]) if len(kind) > 1 else '?'}"
    return str(names.get(kind[0], kind[0]))


def _template_keys(header: GgufHeader) -> list[str]:
    return [key for key in header.fields if key == "tokenizer.chat_template"
            or key.startswith("tokenizer.chat_template.")]


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


def template_problem(template: str, bos: str = "<s>", eos: str = "</s>", *,
                     seconds: float = TEMPLATE_SECONDS) -> str | None:
    """Render ``template`` on sample chats; None when it renders, else what went wrong.

    First in the guarded sandbox (compiling there folds no repeat, power or format; rendering
    runs under the time and memory :class:`Budget`), and only then with llama-cpp-python's
    ``Jinja2ChatFormatter``: its compiler folds constant expressions such as ``'x' * 10**10``,
    so a hostile template must never reach it unchecked."""
    from jinja2.exceptions import SecurityError, TemplateSyntaxError
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    if len(template) > MAX_TEMPLATE_CHARS:
        return f"it is {len(template):,} characters long (at most {MAX_TEMPLATE_CHARS:,})"
    try:
        guarded = guarded_sandbox()().from_string(template)
    except TemplateSyntaxError as exc:
        return f"it is not valid Jinja ({exc.message}, line {exc.lineno})"
    except Exception as exc:  # noqa: BLE001 - untrusted text: any error is "broken"
        return f"it cannot be compiled ({_describe(exc)})"
    try:
        with Budget(seconds, TEMPLATE_MEMORY):
            failure = None
            for messages in SAMPLE_CHATS:
                try:
                    guarded.render(**_render_args(messages, bos, eos))
                    break
                except (SecurityError, TemplateLimit):
                    raise
                except Exception as exc:  # noqa: BLE001 - untrusted code: any error is "broken"
                    failure = exc
            else:
                return f"it fails on a plain conversation ({_describe(failure)})"
    except SecurityError as exc:
        return f"it tries to leave the template sandbox ({exc})"
    except TemplateLimit as exc:
        return str(exc)
    try:  # as llama-cpp-python will, now known to be bounded
        Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)(messages=messages)
    except Exception as exc:  # noqa: BLE001
        return f"it fails on a plain conversation ({_describe(exc)})"
    return None


def _describe(exc: BaseException | None) -> str:
    text = str(exc).strip().splitlines()[0][:160] if exc and str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _render_args(messages: list[dict], bos: str, eos: str) -> dict:
    """What llama-cpp-python's ``Jinja2ChatFormatter.__call__`` passes to a template."""
    def raise_exception(message: str):
        raise ValueError(message)

    return {"messages": messages, "eos_token": eos, "bos_token": bos,
            "raise_exception": raise_exception, "add_generation_prompt": True, "functions": None,
            "function_call": None, "tools": None, "tool_choice": None,
            "strftime_now": lambda fmt: time.strftime(fmt)}


class TemplateLimit(Exception):
    """A template asked for more time, memory or size than a chat template may; the message
    says what ("it takes more than 5 s to render")."""


class Budget:
    """Interrupts Python code run in this thread past ``seconds``, or once the process has grown
    by ``memory`` bytes (checked on every line through ``sys.settrace``; skipped when a debugger
    or coverage tool already traces)."""

    def __init__(self, seconds: float, memory: int) -> None:
        self.seconds, self.memory = seconds, memory

    def __enter__(self) -> Budget:
        self.active = sys.gettrace() is None
        if self.active:
            self.rss = _ResidentMemory()
            self.deadline = time.monotonic() + self.seconds
            self.limit = self.rss.read() + self.memory
            sys.settrace(self._trace)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.active:
            sys.settrace(None)
            self.rss.close()

    def _trace(self, frame, event, arg):
        if time.monotonic() > self.deadline:
            sys.settrace(None)
            raise TemplateLimit(f"it takes more than {self.seconds:g} s to render")
        if self.rss.read() > self.limit:
            sys.settrace(None)
            raise TemplateLimit(f"it needs more than {self.memory >> 20} MB to render")
        return self._trace


class _ResidentMemory:
    """The process's resident memory in bytes: ~3 us a read from /proc on Linux, psutil
    elsewhere."""

    def __init__(self) -> None:
        self._fd = None
        if hasattr(os, "pread"):
            try:
                self._fd = os.open("/proc/self/statm", os.O_RDONLY)
                self._page = os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError):
                self._fd = None
        if self._fd is None:
            import psutil

            self._process = psutil.Process()

    def read(self) -> int:
        if self._fd is not None:
            return int(os.pread(self._fd, 128, 0).split()[1]) * self._page
        return self._process.memory_info().rss

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@cache
def guarded_sandbox():
    """The ``GuardedSandbox`` class, built on first use (llama_cpp is imported only then)."""
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def check_numbers(values) -> None:
        for value in values:
            if isinstance(value, int) and abs(value) > MAX_TEMPLATE_NUMBER:
                raise TemplateLimit(f"it passes the number {value:,}, too large for a chat "
                                    "template")

    def check_format(text: str) -> None:
        """Refuse %-style or {}-style formats asking for huge or computed widths."""
        for spec in re.findall(r"%[#0\- +]*([*\d]*)(?:\.([*\d]*))?", text):
            for part in spec:
                if "*" in part or (part and int(part) > MAX_TEMPLATE_NUMBER):
                    raise TemplateLimit(TOO_WIDE)
        try:
            specs = [spec for _, _, spec, _ in string.Formatter().parse(text) if spec]
        except ValueError:
            return  # not a {}-format: formatting it fails by itself
        for spec in specs:
            if "{" in spec or any(int(n) > MAX_TEMPLATE_NUMBER for n in re.findall(r"\d+", spec)):
                raise TemplateLimit(TOO_WIDE)

    def guard(function):
        @wraps(function)
        def guarded(*args, **kwargs):
            check_numbers(args)
            check_numbers(kwargs.values())
            return function(*args, **kwargs)
        return guarded

    def guarded_format(value, *args, **kwargs):
        check_format(str(value))
        check_numbers(args)
        check_numbers(kwargs.values())
        return FORMAT(value, *args, **kwargs)

    FORMAT = ImmutableSandboxedEnvironment().filters["format"]

    class GuardedSandbox(ImmutableSandboxedEnvironment):
        """llama-cpp-python's chat-template environment (same options, extensions and
        ``tojson``), stricter: touching an unsafe attribute fails at once, and repeats,
        powers, widths and numbers passed to calls are bounded."""

        intercepted_binops = frozenset({"*", "**", "%"})

        def __init__(self) -> None:
            import jinja2

            super().__init__(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True,
                             extensions=[Jinja2ChatFormatter.IgnoreGenerationTags,
                                         jinja2.ext.loopcontrols])
            self.filters = {name: guard(f) for name, f in self.filters.items()}
            self.filters["format"] = guarded_format
            self.filters["tojson"] = guard(Jinja2ChatFormatter.tojson)

        def unsafe_undefined(self, obj, attribute):
            raise SecurityError(f"access to attribute {attribute!r} of "
                                f"{type(obj).__name__!r} object is unsafe")

        def call(__self, __context, __obj, *args, **kwargs):  # jinja's own signature
            check_numbers(args)
            check_numbers(kwargs.values())
            return super().call(__context, __obj, *args, **kwargs)

        def call_binop(self, context, operator, left, right):
            if operator == "*":
                for seq, count in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and \
                            len(seq) * count > MAX_TEMPLATE_ITEMS:
                        raise TemplateLimit("it repeats text or a list too many times")
            elif operator == "**":
                if isinstance(right, int) and isinstance(left, int) and abs(left) > 1 and \
                        right > 256:
                    raise TemplateLimit("it computes a power too large for a chat template")
            elif operator == "%" and isinstance(left, str):
                check_format(left)
                check_numbers(right if isinstance(right, tuple) else (right,))
            return super().call_binop(context, operator, left, right)

        def wrap_str_format(self, value):
            wrapper = super().wrap_str_format(value)
            if wrapper is None:
                return None
            check_format(value.__self__)
            return guard(wrapper)

    return GuardedSandbox


