"""Recommended weighs speed as well as memory: the issue's 16 GB laptop without a usable GPU and
an 8B model, with a CPU probe as a laptop with dual-channel memory gives."""

from __future__ import annotations

from app.core.fit import devices, estimate
from app.core.fit.shape import shape_from_size
from app.core.fit.speed import SpeedMachine
from app.core.fit.speed_here import SpeedHere
from app.core.hardware.cpu_speed import CpuSpeed
from app.core.quants.pick import QuantItem, pick, rows

GB = 10**9
SIZES = {"Q2_K": 3.2, "Q4_K_M": 4.9, "Q5_K_M": 5.7, "Q6_K": 6.6, "Q8_0": 8.5}  # 8B model, GB
LAPTOP = estimate.Machine(ram_bytes=16 * GB)


def items():
    return [
        QuantItem(q, f"model-{q}.gguf", q, int(gb * GB), shape_from_size(int(gb * GB), f"m-{q}"))
        for q, gb in SIZES.items()
    ]


def speeds(bandwidth: float) -> SpeedHere:
    probe = CpuSpeed("laptop", bandwidth / 2, bandwidth, 50e9, 8)
    return SpeedHere(lambda n: SpeedMachine(devices.cpu_device(probe, n)), 7)


def test_a_quant_that_fits_but_crawls_is_passed_over_and_the_reason_says_why():
    table = rows(items(), LAPTOP, 8192, speeds=speeds(60e9))
    by_quant = {r.quant: r for r in table}
    assert by_quant["Q8_0"].placement == "cpu"  # it fits in memory...
    q6, q8 = by_quant["Q6_K"].speed, by_quant["Q8_0"].speed
    assert q8.gen_tok_s < q6.gen_tok_s  # ...and writes slower than Q6_K
    choice = pick(table, LAPTOP, 8192, comfortable_tok_s=q6.gen_tok_s)  # the user's setting
    assert choice.key == "Q6_K"
    assert (
        "fits in your RAM with room for 8,192 tokens of context, at about "
        f"{q6.short[1:].removesuffix(' tok/s')} tokens a second here" in choice.reason
    )
    assert (
        f"(Q8_0 fits too but runs at about {q8.short[1:].removesuffix(' tok/s')} tokens a second)"
        in choice.reason
    )


def test_the_comfortable_speed_setting_moves_the_recommendation():
    table = rows(items(), LAPTOP, 8192, speeds=speeds(60e9))
    assert pick(table, LAPTOP, 8192, comfortable_tok_s=0.5).key == "Q8_0"  # best quality
    fastest = pick(table, LAPTOP, 8192, comfortable_tok_s=1000)
    assert fastest.key == "Q2_K"
    assert "none reaches 1,000 tokens a second here: this is the fastest" in fastest.reason


def test_without_the_speed_figures_the_largest_that_fits_is_recommended():
    assert pick(rows(items(), LAPTOP, 8192), LAPTOP, 8192).key == "Q8_0"


def test_when_nothing_is_comfortable_the_fastest_that_fits_and_a_plain_note():
    table = rows(items(), LAPTOP, 8192, speeds=speeds(20e9))
    choice = pick(table, LAPTOP, 8192)
    assert choice.key == "Q2_K"
    assert "none reaches 10 tokens a second here: this is the fastest" in choice.reason
