"""Make a quant: turn a local F16/BF16/F32/Q8_0 GGUF into a smaller type with llama.cpp's quantizer.

``plan_quant`` checks the request and says what will happen (output path, expected size, a
re-quantization warning); ``make_quant`` runs it. llama.cpp's ``llama_model_quantize`` has no
progress callback and cannot be interrupted, so it runs in a child process (Hearth's own
entry point with a hidden flag, see ``quantize_worker``): progress is the partial file's size against the size expected from the
source's tensors, and cancel terminates the child and deletes the partial file. The output is
written as ``NAME.gguf.part`` (which the library ignores) in ``models_dir/quants`` and renamed to
``NAME.gguf`` only once complete and readable, so it joins the library only then.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from app.core.common.errors import QuantizeCancelled, QuantizeError
from app.core.gguf import quant_types
from app.core.gguf.header import GgufHeader, read_local_header
from app.core.quants import quantize_worker

SOURCES = ("F32", "F16", "BF16", "Q8_0")
UNQUANTIZED = ("F32", "F16", "BF16")
# Types llama.cpp makes without an importance matrix (IQ1/IQ2 types need one).
TARGETS = (
    "Q8_0",
    "Q6_K",
    "Q5_K_M",
    "Q5_K_S",
    "Q5_1",
    "Q5_0",
    "Q4_K_M",
    "Q4_K_S",
    "Q4_1",
    "Q4_0",
    "IQ4_NL",
    "IQ4_XS",
    "Q3_K_L",
    "Q3_K_M",
    "Q3_K_S",
    "IQ3_M",
    "IQ3_S",
    "Q2_K",
)
FTYPES = {name: value for value, name in quant_types.FILE_TYPES.items()}
# Rows that are not a multiple of 256 cannot use K/IQ blocks; llama.cpp falls back to these.
_FALLBACK_BITS = {"Q6_K": 8.5, "Q5_K": 6.0, "Q4_K": 5.5}
_F32, _F16, _BF16 = 0, 1, 30  # ggml_type values of unquantized tensors

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class QuantPlan:
    source: Path
    source_quant: str
    target: str
    output: Path
    expected_bytes: int
    requantize: bool
    warning: str | None  # shown before starting when the source is already quantized

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(source=str(self.source), output=str(self.output))
        return data


@dataclass(frozen=True)
class QuantResult:
    path: Path
    quant: str
    size_bytes: int
    seconds: float
    requantized: bool

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def expected_size(header: GgufHeader, target: str) -> int:
    """Rough size of ``header``'s model quantized to ``target`` (progress needs no more).

    2-D weights take the target's bits per weight (or llama.cpp's fallback type when their
    rows are not a multiple of 256), the output matrix at least Q6_K's; 1-D tensors stay F32.
    Mixes (_M, _L) keep a few more tensors larger: the estimate runs a little short.
    """
    bits = quant_types.bits_per_weight(target) or 8.5
    base = re.sub(r"_[SML]$", "", target)
    names = {t.name for t in header.tensors}
    # The output matrix (the token embeddings when tied) is kept at Q6_K at least.
    output = "output.weight" if "output.weight" in names else "token_embd.weight"
    total = header.data_offset
    for tensor in header.tensors:
        if len(tensor.shape) < 2:
            total += tensor.n_elements * 4
            continue
        kind = "Q6_K" if tensor.name == output and bits < 6.5625 else base
        tensor_bits = (quant_types.bits_per_weight(kind) or bits) if kind != base else bits
        if tensor.shape[0] % 256 and (kind.endswith("_K") or kind.startswith("IQ")):
            tensor_bits = _FALLBACK_BITS.get(kind, 4.5)  # IQ/Q2_K/Q3_K fall back to IQ4_NL
        total += int(tensor.n_elements * tensor_bits / 8)
    return total


def output_name(source: Path, source_quant: str, target: str) -> str:
    """``Model-F16.gguf`` -> ``Model-Q4_K_M.gguf``; made from a quant: ``Model-Q4_K_M-requant``."""
    stem = source.name[:-5] if source.name.lower().endswith(".gguf") else source.name
    matches = list(re.finditer(re.escape(source_quant), stem, re.IGNORECASE))
    if matches:
        last = matches[-1]
        stem = stem[: last.start()] + target + stem[last.end() :]
    else:
        stem = f"{stem}-{target}"
    if source_quant not in UNQUANTIZED:
        stem += "-requant"
    return f"{stem}.gguf"


def plan_quant(source: Path, target: str, models_dir: Path) -> QuantPlan:
    """Check the request; raise ``QuantizeError`` with a plain reason when it cannot be made."""
    source = Path(source)
    target = target.upper()
    if target not in TARGETS:
        raise QuantizeError(f"Hearth cannot make {target} quants. It makes: {', '.join(TARGETS)}.")
    header = read_local_header(source)
    source_quant = (
        quant_types.quant_from_file_type(header.file_type)
        or quant_types.quant_from_name(source.name)
        or "unknown"
    )
    if source_quant not in SOURCES:
        raise QuantizeError(
            f"{source.name} is {source_quant}. Quants are made from an F16, BF16, F32 or Q8_0 "
            "file: quantizing an already small quant again loses too much quality."
        )
    if (quant_types.bits_per_weight(target) or 0) >= (
        quant_types.bits_per_weight(source_quant) or 0
    ):
        raise QuantizeError(
            f"A {target} file would not be smaller than {source.name} ({source_quant})."
        )
    requantize = source_quant not in UNQUANTIZED
    warning = None
    if requantize:
        warning = (
            f"{source.name} is already quantized ({source_quant}). A {target} made from "
            f"it loses more quality than one made from the F16 or BF16 original; use "
            "the original if you have it."
        )
    output = models_dir / "quants" / output_name(source, source_quant, target)
    if output.exists():
        raise QuantizeError(f"{output.name} already exists in Hearth's models folder.")
    return QuantPlan(
        source=source,
        source_quant=source_quant,
        target=target,
        output=output,
        expected_bytes=expected_size(header, target),
        requantize=requantize,
        warning=warning,
    )


def make_quant(
    plan: QuantPlan,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    threads: int = 0,
    poll_seconds: float = 0.2,
) -> QuantResult:
    """Run ``plan``; ``progress(bytes_written, expected_bytes, message)`` while it runs."""
    from app.core.measure.llama_eval import default_threads

    cancel = cancel or threading.Event()
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(plan.output.parent).free
    if free < plan.expected_bytes * 1.1:
        raise QuantizeError(
            f"Not enough free disk space for {plan.output.name}: about "
            f"{plan.expected_bytes / 1e9:.1f} GB needed, "
            f"{free / 1e9:.1f} GB free."
        )
    partial = plan.output.with_name(plan.output.name + ".part")
    args = quantize_worker.command(
        str(plan.source),
        str(partial),
        str(FTYPES[plan.target]),
        str(threads or default_threads()),
        "1" if plan.requantize else "0",
    )
    started = time.perf_counter()
    message = f"Making {plan.output.name}"
    done = False
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            while True:
                try:
                    code = child.wait(timeout=poll_seconds)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if cancel.is_set():
                    raise QuantizeCancelled(f"Making {plan.output.name} was cancelled.")
                if progress is not None:
                    written = partial.stat().st_size if partial.exists() else 0
                    progress(min(written, plan.expected_bytes - 1), plan.expected_bytes, message)
            if code != 0:
                raise QuantizeError(
                    f"llama.cpp could not make {plan.output.name}: {_last_error(log)}"
                )
            read_local_header(partial)  # complete and readable, or ModelFileError
            os.replace(partial, plan.output)
            done = True
        finally:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            if not done:
                partial.unlink(missing_ok=True)
    size = plan.output.stat().st_size
    if progress is not None:
        progress(size, size, f"Made {plan.output.name}")
    return QuantResult(
        path=plan.output,
        quant=plan.target,
        size_bytes=size,
        seconds=time.perf_counter() - started,
        requantized=plan.requantize,
    )


def _last_error(log: IO[bytes]) -> str:
    log.seek(0)
    lines = [
        line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()
    ]
    errors = [line for line in lines if "error" in line.lower() or "failed" in line.lower()]
    last: str = (errors or lines or ["no message"])[-1]
    return last[:300]
