"""Published quality figures per quant type (llama.cpp's KL-divergence scoreboard)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from app.core.common.resources import resource

SOURCE = (
    "llama.cpp perplexity scoreboard, Llama-3-8B on Wikitext-2 vs FP16 "
    "(ggml-org/llama.cpp PR #6936)"
)


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
