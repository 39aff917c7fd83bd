"""The quant picker: every quant of one model as a row, and the one to recommend.

A row has the quant type, its bits per weight, file size, fit on this machine at the chosen
context (``fit.plan``) and expected quality (``quant_explain``: the user's measurement of the file
when there is one, else llama.cpp's published figure for the type, else an estimate).

Recommended: the best quality that fits fully at the chosen context (all layers on the GPU; on a
machine without a usable GPU, in RAM), so the context has room. When none fits fully, the best
that fits with part of it (or all of it) in RAM, and the reason says so. When nothing fits, none.
Quality is ranked on the published/estimated figures, which compare across types; the user's
measurements rank instead when every candidate has one.

Speed counts too: memory is only half of "fits". Among the candidates, those that generate at
least the comfortable speed here (the user's setting, ``COMFORTABLE_TOK_S`` by default) (``fit.speed``, calibrated by the user's runs) come first, so
a 16 GB laptop without a usable GPU is not offered an 8B model's Q8_0 that fits and then writes
a few words a second while its Q4_K_M runs twice as fast. When none is comfortable, the fastest
that fits, and the reason says so. Rows without a speed figure (an unknown GPU) count as
comfortable: nothing is known against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.core.fit import estimate
from app.core.fit.shape import ModelShape
from app.core.fit.speed import CHAT_DEPTH, Speed
from app.core.gguf import quant_types
from app.core.quants import explain
from app.core.quants.explain import Quality

if TYPE_CHECKING:
    from app.core.fit.speed_here import SpeedHere
    from app.core.measure.measurement import FileMeasurement

FULL, PARTIAL, CPU, TOO_LARGE = "full", "partial", "cpu", "too-large"
COMFORTABLE_TOK_S = 10.0  # about reading speed: slower answers keep the reader waiting
SPEED_DEPTH = CHAT_DEPTH


@dataclass(frozen=True)
class QuantItem:
    """One quant of the model, before its fit is worked out."""

    key: str  # the file (Hub name or local path)
    label: str  # the file name shown
    quant: str | None
    size_bytes: int
    shape: ModelShape  # of this file, or of a sibling file resized to this one
    parameters: int | None = None
    measurement: FileMeasurement | None = None  # of this file, if stored


@dataclass(frozen=True)
class QuantRow:
    key: str
    label: str
    quant: str
    size_bytes: int
    bits: float | None
    fit: estimate.Fit
    placement: str  # FULL, PARTIAL, CPU or TOO_LARGE
    quality: Quality | None  # shown: measured, else typical/estimate
    typical: Quality | None  # for ranking
    explanation: str
    speed: Speed | None = None  # generation here with SPEED_DEPTH tokens of chat
    projector_bytes: int = 0  # an image projector that downloads and loads with it


@dataclass(frozen=True)
class Pick:
    key: str | None
    reason: str
    fully: bool  # the pick fits fully (no "say so" needed)


def placement(verdict: str) -> str:
    if verdict == estimate.VERDICT_FULL:
        return FULL
    if verdict.startswith("Partial"):
        return PARTIAL
    return CPU if verdict == estimate.VERDICT_CPU else TOO_LARGE


def resized(shape: ModelShape, name: str, size: int, quant: str | None) -> ModelShape:
    """A sibling file's shape for a file of another size: same architecture, weights by size."""
    if shape.file_size == size and shape.tensors:
        return shape
    return replace(shape, name=name, file_size=size, tensors=(), exact=False, quant=quant)


def rows(
    items: Iterable[QuantItem],
    machine: estimate.Machine,
    n_ctx: int,
    kv_type: str = "f16",
    speeds: SpeedHere | None = None,
) -> list[QuantRow]:
    """The rows at ``n_ctx``, smallest file first. ``speeds`` (a ``fit.speed_here.SpeedHere``)
    adds each file's speed here; without it the rows have none."""
    result = []
    for item in items:
        plan = estimate.plan(item.shape, machine, n_ctx, kv_type)
        fits = plan.verdict != estimate.VERDICT_TOO_LARGE
        speed = (
            speeds.speed(item.shape, plan.gpu_layers, min(SPEED_DEPTH, n_ctx), plan.cpu_moe_layers)
            if speeds is not None and fits
            else None
        )
        name = (item.quant or quant_types.quant_from_name(item.label) or "?").upper()
        bits = (
            item.size_bytes * 8 / item.parameters
            if item.parameters
            else quant_types.typical_bits(name)
        )
        typical = explain.typical_quality(name)
        shown = (
            explain.measured_quality(item.measurement) if item.measurement is not None else typical
        )
        result.append(
            QuantRow(
                key=item.key,
                label=item.label,
                quant=name,
                size_bytes=item.size_bytes,
                bits=bits,
                fit=plan,
                placement=placement(plan.verdict),
                quality=shown,
                typical=typical,
                explanation=explain.explain(name, bits),
                speed=speed,
                projector_bytes=item.shape.projector_bytes,
            )
        )
    result.sort(key=lambda r: (r.size_bytes, r.label.lower()))
    return result


def _rank(candidates: Sequence[QuantRow]) -> Callable[[QuantRow], tuple[float, int]]:
    measured = all(r.quality is not None and r.quality.kind == explain.MEASURED for r in candidates)

    def key(row: QuantRow) -> tuple[float, int]:
        q = row.quality if measured else row.typical
        return (-(q.kld if q is not None else 99.0), row.size_bytes)

    return key


def pick(
    table: Sequence[QuantRow],
    machine: estimate.Machine,
    n_ctx: int,
    comfortable_tok_s: float = COMFORTABLE_TOK_S,
) -> Pick:
    """The quant to recommend at ``n_ctx`` and a one-line reason."""
    gpu = bool(machine.gpu_bytes)
    tokens = f"{n_ctx:,} tokens of context"
    full = [r for r in table if r.placement == (FULL if gpu else CPU)]
    if full:
        best, speed_note = _by_speed(full, comfortable_tok_s)
        where = "runs fully on your GPU" if gpu else "fits in your RAM"
        cpu_note = "" if gpu else "; no usable GPU here: it runs on the CPU"
        return Pick(
            best.key,
            f"{best.quant}: the best quality that {where} with room for "
            f"{tokens}{speed_note}; {_words(best)}{cpu_note}.",
            True,
        )
    partial = [r for r in table if r.placement in (PARTIAL, CPU)]
    if partial:
        best, speed_note = _by_speed(partial, comfortable_tok_s)
        how = (
            "part on the GPU, the rest in RAM"
            if best.placement == PARTIAL
            else "from RAM on the CPU"
        )
        return Pick(
            best.key,
            f"{best.quant}: none fits fully on your GPU at {tokens}; this is "
            f"the best quality that runs with {how}{speed_note}; "
            f"{_words(best)}.",
            False,
        )
    if not table:
        return Pick(None, "No quants of this model to choose from.", False)
    return Pick(
        None,
        f"None of these fits this machine at {tokens}. Choose a shorter context, "
        "or a smaller model.",
        False,
    )


def _by_speed(candidates: Sequence[QuantRow], comfortable: float) -> tuple[QuantRow, str]:
    """The best quality among the comfortably fast candidates (else the fastest), and the
    words the reason adds: the speed here, and why a better one was passed over."""
    quick = [r for r in candidates if r.speed is None or r.speed.gen_tok_s >= comfortable]
    if quick:
        best = max(quick, key=_rank(quick))
        note = f", at about {_speed_words(best.speed)} here" if best.speed else ""
        better = max(candidates, key=_rank(candidates))
        if better is not best and better.speed is not None:
            note += f" ({better.quant} fits too but runs at about {_speed_words(better.speed)})"
        return best, note
    # None was quick, so every candidate has a speed.
    best, speed = max(
        ((r, r.speed) for r in candidates if r.speed is not None),
        key=lambda timed: (timed[1].gen_tok_s, -timed[0].size_bytes),
    )
    return best, (
        f"; none reaches {_number(comfortable)} tokens a second here: this is the fastest, "
        f"at about {_speed_words(speed)}"
    )


def _number(value: float) -> str:
    """The comfortable speed as the user set it: 10, 0.5, 15.5, 1,000."""
    return f"{value:,.1f}".removesuffix(".0")


def _speed_words(speed: Speed) -> str:
    """ "14 tokens a second", rounded as the speed column shows it."""
    return f"{speed.short.lstrip('~').removesuffix(' tok/s')} tokens a second"


def _words(row: QuantRow) -> str:
    if row.quality is None:
        return "quality unknown"
    return f"quality {explain.quality_words(row.quality.kld)}"


CONTEXTS = (2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)


def context_choices(n_ctx_train: int | None) -> list[int]:
    """Context lengths to offer: the usual steps up to the model's own (which is offered too)."""
    top = n_ctx_train or 8192
    steps = [c for c in CONTEXTS if c < top]
    return steps + [top]
