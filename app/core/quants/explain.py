"""What each quant level means, in plain words, and its expected quality.

* ``explain(quant)``: one line per quant type ("Q4_K_M: usually close to the original; the
  usual choice"); unknown types get a line built from their bits per weight.
* ``bits_words(quant, file_bits)``: the one way bits per weight are said, labelled: "this file:
  6.3 bits per weight; Q4_K_M usually 4.9". A file's own figure (size over parameters) is higher
  than its type's usual one in small models, whose embeddings are a larger share; both are shown
  rather than two unlabelled numbers that seem to contradict each other (issue 19).
* ``typical_quality(quant)``: llama.cpp's published mean KL divergence for the type (Llama-3-8B,
  ``resources/data/llama3-8b-quant-kld.tsv``); for the older types the table lacks (Q4_1, Q5_0,
  Q5_1, ...) an estimate from the perplexity increase llama.cpp publishes for them; for the rest
  (IQ*, ...) a rough estimate from bits per weight, interpolated between the published types.
  Either estimate is said to be one. The ranking of the picker and these words agree: an older
  type said to be below Q4_K_M is ranked below it.
* ``verdict(kld, same_top_pct)``: a measured file in one plain sentence ("answers almost always
  the same as the original"), the figures one click away.
* ``measured_quality(m)``: the user's own measurement of a file (``measure.FileMeasurement``).
* ``quality_score(kld)``: 0..1 for the quality bar (log scale: 0.001 or less is full, 1.0 empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from app.core.gguf import quant_types
from app.core.quants import quality

if TYPE_CHECKING:
    from app.core.measure.measurement import FileMeasurement

TYPICAL = "typical"
ESTIMATE = "estimate"
MEASURED = "measured"
LABELS = {
    TYPICAL: "typical for this type",
    ESTIMATE: "rough estimate",
    MEASURED: "measured by you",
}

LLAMA3_8B_PARAMS = 8.03e9

_CLOSE = {
    "F32": "the original weights at full precision; twice the size of F16 for no visible gain",
    "F16": "the original weights, unchanged; the largest file",
    "BF16": "the original weights in the format most models are trained in; same quality as F16",
    "Q8_0": "practically indistinguishable from the original",
    "Q6_K": "nearly indistinguishable from the original",
    "Q5_1": "an older format, very close to the original; Q5_K_M is closer and smaller",
    "Q5_K_M": "very close to the original",
    "Q5_K_S": "very close to the original, slightly below Q5_K_M",
    "Q5_0": "an older format, close to the original; Q5_K_M is closer",
    "Q4_1": "an older format, not as close to the original as Q4_K_M",
    "Q4_K_M": "usually close to the original; the usual choice",
    "Q4_K_S": "close to the original, slightly below Q4_K_M",
    "Q4_0": "an older, simple format: fast, but noticeably below Q4_K_M",
    "IQ4_NL": "a newer 4-bit format, close to the original",
    "IQ4_XS": "a newer 4-bit format, nearly as good as Q4_K_M and smaller",
    "MXFP4": "a 4-bit float format some models (gpt-oss) are released in",
    "Q3_K_L": "noticeably below the original; Q4 quants are better for a little more memory",
    "Q3_K_M": "noticeably less accurate; fine for chat when memory is tight",
    "IQ3_M": "a newer 3-bit format, better than Q3_K_M for its size",
    "Q3_K_S": "clearly less accurate; for when nothing larger fits",
    "IQ3_S": "a newer 3-bit format; clearly less accurate than 4-bit ones",
    "IQ3_XS": "a newer 3-bit format for tight memory; clearly less accurate",
    "IQ3_XXS": "a newer 3-bit format for tight memory; clearly less accurate",
    "Q2_K": "much less accurate: mistakes and odd wording get common; a last resort",
    "Q2_K_S": "much less accurate; a last resort",
    "IQ2_M": "very lossy; worth it only for large models that fit no other way",
    "IQ2_S": "very lossy; worth it only for large models that fit no other way",
    "IQ2_XS": "very lossy; worth it only for large models that fit no other way",
    "IQ2_XXS": "very lossy; worth it only for very large models",
    "IQ1_M": "extremely lossy; usable only with very large models",
    "IQ1_S": "extremely lossy; usable only with very large models",
}


def explain(quant: str | None, bits: float | None = None) -> str:
    """One plain line about a quant level ("NAME: words."); ``bits`` (the file's own) judge a
    type Hearth does not know. Bits per weight are said by ``bits_words``."""
    name = (quant or "").upper()
    typical = quant_types.typical_bits(name)
    if name in _CLOSE:
        return f"{name}: {_CLOSE[name]}."
    if name.endswith("_XL") and typical:
        return (
            f"{name}: an Unsloth dynamic mix that keeps its most important layers at "
            "higher precision."
        )
    bits = bits or typical
    if not bits:
        return f"{quant or 'Unknown type'}: the quant type is not known to Hearth."
    return f"{quant or 'Unknown type'}: {_words_for_bits(bits)}."


def bits_words(quant: str | None, file_bits: float | None = None) -> str:
    """Bits per weight, each figure labelled: "this file: 6.3 bits per weight; Q4_K_M usually
    4.9" (the file's own: its size over its parameters; the type's usual: a typical whole
    Llama-3-8B file, ``quant_types.typical_bits``). "" when neither is known."""
    name = (quant or "").upper()
    typical = quant_types.typical_bits(name)
    if file_bits and typical and round(file_bits, 1) == round(typical, 1):
        return f"this file: {file_bits:.1f} bits per weight, as usual for {name}"
    parts = []
    if file_bits:
        parts.append(f"this file: {file_bits:.1f} bits per weight")
    if typical:
        parts.append(f"{name} usually {typical:.1f}" + ("" if file_bits else " bits per weight"))
    return "; ".join(parts)


def _words_for_bits(bits: float) -> str:
    for limit, words in (
        (7.5, "practically indistinguishable from the original"),
        (5.2, "very close to the original"),
        (4.2, "usually close to the original"),
        (3.4, "noticeably less accurate"),
        (2.5, "much less accurate"),
    ):
        if bits >= limit:
            return words
    return "very lossy"


# Verdicts on a measured file, best first: (KL divergence below, same top token at least %,
# words); a file gets the first level both its figures reach. Levels from llama.cpp's published
# Llama-3-8B figures (quality.SOURCE): Q8_0 (KLD 0.0014, same top 97.7 %) and Q6_K (0.0055,
# 96.0 %) "almost always the same"; Q4_K_M (0.031, 91.9 %) "mostly the same"; Q4_0 to Q3_K_S
# (0.07-0.23) "noticeably different"; Q2_K (0.445, 71.1 %) "often different". The same-top
# bounds sit a little under those points (94, 88, 75); the KLD bounds are ``quality_words``'s
# (0.02, 0.05, 0.3), so the verdicts and the picker's words change at the same divergences.
VERDICTS = (
    (0.02, 94.0, "answers almost always the same as the original"),
    (0.05, 88.0, "answers mostly the same as the original; small differences"),
    (0.3, 75.0, "noticeably different from the original"),
)
OFTEN_DIFFERENT = "often different from the original: expect more mistakes"
REFERENCE = "the reference: the others are compared with it"


def verdict(kld: float | None, same_top_pct: float | None = None) -> str:
    """A measured file in one plain sentence: the first level both figures reach (a NaN or
    missing same-top share is not held against the file)."""
    if kld is None or not math.isfinite(kld):
        return "not measured"
    top = same_top_pct if same_top_pct is not None and math.isfinite(same_top_pct) else 100.0
    for most_kld, least_top, words in VERDICTS:
        if kld < most_kld and top >= least_top:
            return words
    return OFTEN_DIFFERENT


def quality_words(kld: float | None) -> str:
    """Mean KL divergence from the original in words."""
    if kld is None:
        return "quality unknown"
    for limit, words in (
        (0.0001, "same as the original"),
        (0.006, "indistinguishable from the original"),
        (0.02, "very close to the original"),
        (0.05, "close to the original"),
        (0.15, "noticeably lower"),
        (0.3, "clearly lower"),
    ):
        if kld < limit:
            return words
    return "much lower"


# The same scale in one word each, for a table cell read whole in a 1024-px window
# (issue 19: "indistinguishable from the original" was cut to "indisti…").
_QUALITY_SHORT = {
    "same as the original": "same",
    "indistinguishable from the original": "excellent",
    "very close to the original": "very good",
    "close to the original": "good",
    "noticeably lower": "fair",
    "clearly lower": "poor",
    "much lower": "bad",
    "quality unknown": "unknown",
}


def quality_short(kld: float | None) -> str:
    """``quality_words`` as one short verdict ("excellent", "good", "fair"...)."""
    return _QUALITY_SHORT[quality_words(kld)]


def quality_score(kld: float | None) -> float | None:
    """The quality bar's fill: 1 at a KLD of 0.001 or less, 0 at 1.0 (log scale)."""
    if kld is None:
        return None
    return max(0.0, min(1.0, 1 - math.log10(max(kld, 1e-3) / 1e-3) / 3))


@dataclass(frozen=True)
class Quality:
    kld: float
    kind: str  # TYPICAL, ESTIMATE or MEASURED
    note: str  # where the figure comes from, for the hover text and the line under the table
    same_top_pct: float | None = None

    @property
    def label(self) -> str:
        return LABELS[self.kind]


@lru_cache(maxsize=1)
def _published() -> dict[str, quality.PublishedQuality]:
    return quality.load_published()


def typical_quality(quant: str | None) -> Quality | None:
    name = (quant or "").upper()
    table = _published()
    if name in ("F16", "BF16", "F32") or (name in table and table[name].mean_kld is not None):
        row = table.get(name)
        if row is None or row.mean_kld is None:
            return Quality(
                0.0,
                TYPICAL,
                f"{name} holds the original weights: the reference the "
                f"quants are compared with ({quality.SOURCE})",
            )
        return Quality(
            row.mean_kld, TYPICAL, f"{name} on Llama-3-8B: {quality.SOURCE}", row.same_top_pct
        )
    if name in quality.QUANTIZE_DELTA_PPL:
        delta = quality.QUANTIZE_DELTA_PPL[name]
        return Quality(
            _from_delta_ppl(delta),
            ESTIMATE,
            f"No published KL divergence for {name}: estimated from its published "
            f"perplexity increase (+{delta:.4f}; {quality.QUANTIZE_SOURCE}) between the "
            "published types",
        )
    bits = quant_types.typical_bits(name)
    if not bits:
        return None
    return Quality(
        _interpolate(bits),
        ESTIMATE,
        f"No published figure for {name}: estimated from its {bits:.1f} bits per "
        f"weight between the published types ({quality.SOURCE})",
    )


def _interpolate(bits: float) -> float:
    """log(KLD) linear in bits per weight between the published types (Llama-3-8B)."""
    points = _lower_hull(
        sorted(
            (row.size_gib * 2**30 * 8 / LLAMA3_8B_PARAMS, math.log(row.mean_kld))
            for row in _published().values()
            if row.mean_kld
        )
    )
    if bits >= 15:
        return 0.0
    if bits <= points[0][0]:
        (x0, y0), (x1, y1) = points[0], points[1]
    elif bits >= points[-1][0]:
        (x0, y0), (x1, y1) = points[-2], points[-1]
    else:
        i = next(i for i, (x, _) in enumerate(points) if x >= bits)
        (x0, y0), (x1, y1) = points[i - 1], points[i]
    y = y0 + (y1 - y0) * (bits - x0) / (x1 - x0) if x1 != x0 else y0
    return min(2.0, math.exp(y))


def _from_delta_ppl(delta: float) -> float:
    """log(KLD) linear in log(perplexity increase) between the published types: the two
    figures rise together on the scoreboard (Q5_K_M 0.057 -> 0.011 ... Q2_K 3.52 -> 0.445)."""
    points = sorted(
        (math.log(row.delta_ppl), math.log(row.mean_kld))
        for row in _published().values()
        if row.mean_kld and row.delta_ppl
    )
    x = math.log(delta)
    above = next((i for i, (px, _) in enumerate(points) if px >= x), len(points) - 1)
    i = max(1, above)  # beyond either end: the nearest two points' line
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    y = y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 != x0 else y0
    return min(2.0, math.exp(y))


def _lower_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The best figures reachable at each size: a type that does worse than a line between
    two others (Q4_0 beside Q4_K_S) says little about newer types of its size."""
    hull: list[tuple[float, float]] = []
    for point in points:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) <= 0:
            hull.pop()
        hull.append(point)
    return hull


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def measured_quality(measurement: FileMeasurement) -> Quality:
    """A ``measure.FileMeasurement`` of the user's file as its quality."""
    ref = str(measurement.reference_file).replace("\\", "/").rsplit("/", 1)[-1]
    note = (
        "This is the reference file the others were measured against"
        if measurement.reference
        else f"Measured by you against {ref} on {measurement.text} ({measurement.tokens} tokens)"
    )
    return Quality(float(measurement.kld), MEASURED, note, measurement.same_top_pct)
