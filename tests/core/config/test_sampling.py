import argparse
from dataclasses import asdict, fields

import pytest

from app.core.config import limits
from app.core.config.sampling import (
    PRESETS,
    SPECS,
    Sampling,
    add_flags,
    from_flags,
    preset_name,
    with_preset,
)
from app.core.inference.types import SamplingOptions
from app.core.server.ollama import OPTION_FIELDS
from app.core.server.schema import parse_chat

CHAT = [{"role": "user", "content": "Hi"}]


def test_every_field_declares_its_range_and_refuses_a_value_past_it():
    for f in fields(Sampling):
        spec = SPECS[f.name]
        assert spec.low <= f.default <= spec.high
        with pytest.raises(limits.InvalidValue, match="must be"):
            Sampling(**{f.name: spec.high + 1})
    with pytest.raises(limits.InvalidValue, match="The temperature"):
        Sampling(temperature=float("nan"))


def test_presets_set_only_their_fields_and_are_named_back():
    mine = Sampling(max_tokens=77, seed=3)
    for name, preset in PRESETS.items():
        chosen = with_preset(mine, name)
        assert preset_name(chosen) == name
        assert (chosen.max_tokens, chosen.seed) == (77, 3)
        assert chosen.temperature == preset.temperature
    assert preset_name(Sampling(temperature=0.33)) == "Custom"


def test_the_command_line_has_a_flag_per_field():
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_flags(parser)
    args = parser.parse_args(["--top-k", "5", "--repeat-penalty", "1.5", "--seed", "9"])
    base = Sampling(temperature=0.2)
    assert from_flags(args, base) == Sampling(temperature=0.2, top_k=5, repeat_penalty=1.5, seed=9)
    assert from_flags(parser.parse_args([]), base) == base
    for name in SPECS:
        assert f"--{name.replace('_', '-')}" in parser.format_help()
    with pytest.raises(argparse.ArgumentError, match="temperature must be a number"):
        parser.parse_args(["--temperature", "-1"])


def test_an_api_request_may_set_every_field_and_ollama_names_them_too():
    chosen = Sampling(temperature=1.5, top_p=0.5, top_k=7, min_p=0.2, repeat_penalty=1.2,
                      max_tokens=33, seed=11)  # fmt: skip
    request = parse_chat({"messages": CHAT, **asdict(chosen)}, SamplingOptions())
    assert request.sampling == SamplingOptions.of(chosen)
    assert set(SPECS) <= set(OPTION_FIELDS.values())
    untouched = parse_chat({"messages": CHAT}, SamplingOptions.of(chosen)).sampling
    assert untouched.sampling() == chosen
