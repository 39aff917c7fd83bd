"""The words Hearth says about quants: one labelled way to say bits per weight, estimates that
agree with the words, and plain verdicts on measured files (issue 19)."""

from __future__ import annotations

import pytest

from app.core.fit import estimate
from app.core.fit.shape import shape_from_file
from app.core.quants import explain, quality
from app.core.quants.pick import QuantItem, pick, resized, rows


def test_bits_per_weight_are_said_once_and_labelled() -> None:
    # a 135M model's Q4_K_M file: its own figure beside its type's usual one, each named
    assert (
        explain.bits_words("Q4_K_M", 6.27) == "this file: 6.3 bits per weight; Q4_K_M usually 4.9"
    )
    assert (
        explain.bits_words("Q4_K_M", 4.9) == "this file: 4.9 bits per weight, as usual for Q4_K_M"
    )
    assert explain.bits_words("Q4_K_M") == "Q4_K_M usually 4.9 bits per weight"
    assert explain.bits_words("XYZ") == ""


def test_older_types_are_estimated_from_their_published_perplexity() -> None:
    q4_1, q4_k_m = explain.typical_quality("Q4_1"), explain.typical_quality("Q4_K_M")
    assert q4_1.kind == explain.ESTIMATE and "+0.4511" in q4_1.note
    # Q4_1's perplexity increase (+0.4511) is next to Q4_0's (+0.4685, KLD 0.072): worse than
    # Q4_K_M although larger, as its words say
    assert q4_k_m.kld < q4_1.kld < 0.07194
    assert "not as close" in explain.explain("Q4_1")
    q5_1 = explain.typical_quality("Q5_1")
    assert explain.typical_quality("Q5_K_M").kld < q5_1.kld  # "Q5_K_M is closer and smaller"
    assert set(quality.QUANTIZE_DELTA_PPL).isdisjoint(
        q for q, row in quality.load_published().items() if row.mean_kld is not None
    )


def test_the_recommendation_agrees_with_the_words(quant_ladder) -> None:
    """My Models with the starter's Q4_1 and a Q4_K_M of the same model, both fitting: the
    pane said "Q4_K_M is better for its size" while recommending Q4_1."""
    shape = shape_from_file(quant_ladder["Q4_K_M"])
    q4_k_m = shape.file_size
    q4_1 = q4_k_m * 51 // 49  # Q4_1 files are a little larger (5.1 against 4.9 bits per weight)
    items = [
        QuantItem(q, q, q, size, resized(shape, q, size, q), parameters=134515008)
        for q, size in (("Q4_1", q4_1), ("Q4_K_M", q4_k_m))
    ]
    machine = estimate.Machine(ram_bytes=8 * 2**30)
    table = rows(items, machine, 2048)
    choice = pick(table, machine, 2048)
    assert choice.key == "Q4_K_M" and choice.reason.startswith("Q4_K_M: the best quality")


@pytest.mark.parametrize(
    ("quant", "words"),
    [
        ("Q8_0", "answers almost always the same as the original"),
        ("Q6_K", "answers almost always the same as the original"),
        ("Q4_K_M", "answers mostly the same as the original; small differences"),
        ("Q3_K_M", "noticeably different from the original"),
        ("Q2_K", "often different from the original: expect more mistakes"),
    ],
)
def test_verdicts_follow_the_published_figures(quant, words) -> None:
    row = quality.load_published()[quant]
    assert explain.verdict(row.mean_kld, row.same_top_pct) == words


def test_a_verdict_takes_the_worse_of_its_two_figures() -> None:
    assert explain.verdict(0.005, 80.0) == "noticeably different from the original"
    assert explain.verdict(0.005, float("nan")) == explain.VERDICTS[0][2]
    assert explain.verdict(None) == "not measured"


def test_each_quality_verdict_has_one_short_word_in_order() -> None:
    """The quant picker's cell says the verdict in a word (issue 19: "indisti…" at 1024 px)."""
    klds = [None, 0.0, 0.001, 0.01, 0.03, 0.1, 0.2, 1.0]
    words = [explain.quality_short(k) for k in klds]
    assert words == ["unknown", "same", "excellent", "very good", "good", "fair", "poor", "bad"]
    assert all(len(w) <= 9 for w in words)  # read whole in a narrow column
