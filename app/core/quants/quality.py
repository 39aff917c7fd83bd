"""Published quality figures per quant type (llama.cpp's KL-divergence scoreboard), and the
perplexity increases llama.cpp publishes for the types the scoreboard leaves out."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from app.core.common.resources import resource

SOURCE = (
    "llama.cpp perplexity scoreboard, Llama-3-8B on Wikitext-2 vs FP16 "
    "(ggml-org/llama.cpp PR #6936)"
)

# Said first, in plain words; ``SOURCE`` is the citation, one click further.
PLAIN_SOURCE = (
    "llama.cpp's own measurements of each quant type on an 8-billion-parameter model "
    "(Llama 3 8B), compared with the original"
)

# Perplexity increase over F16 on Llama-3-8B for types without a KL divergence on the
# scoreboard: the table llama.cpp's quantize tool prints (tools/quantize/quantize.cpp,
# QUANT_OPTIONS). The older types (Q4_1, Q5_x) sit well above the newer ones of their size, so
# their KL divergence is estimated from these, not from their bits per weight.
QUANTIZE_DELTA_PPL: dict[str, float] = {
    "Q4_1": 0.4511,
    "Q5_0": 0.1316,
    "Q5_1": 0.1062,
    "Q3_K_L": 0.5562,
    "Q2_K_S": 3.1836,
}
QUANTIZE_SOURCE = "llama.cpp's quantize tool, Llama-3-8B"


@dataclass(frozen=True)
class PublishedQuality:
    quant: str
    size_gib: float
    ppl: float
    delta_ppl: float | None
    mean_kld: float | None
    same_top_pct: float | None


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


def load_published(path: Path | None = None) -> dict[str, PublishedQuality]:
    path = path or resource("data", "llama3-8b-quant-kld.tsv")
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    table = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        table[row["quant"]] = PublishedQuality(
            quant=row["quant"],
            size_gib=float(row["size_gib"]),
            ppl=float(row["ppl"]),
            delta_ppl=_num(row["delta_ppl"]),
            mean_kld=_num(row["mean_kld"]),
            same_top_pct=_num(row["same_top_pct"]),
        )
    return table
