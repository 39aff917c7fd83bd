"""The sampling settings, defined once: each field's default, range, label and step.

``Sampling`` is what a user chooses for how a model draws its words. Everything else derives
from its fields (``dataclasses.fields``, ``replace``, ``asdict``): the settings file and the
per-model settings (``app.core.config.settings``, ``presets``), the presets, the chat settings
panel's boxes, ``hearth run``/``hearth serve``'s flags, the API server's request fields and
``SamplingOptions`` (``app.core.inference.types``, which adds what only an API request asks).
They used to be copied field by field in eleven places, with two ``max_tokens`` defaults.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from app.core.config import limits


@dataclass(frozen=True)
class Spec:
    """One sampling field's range and how it is shown and asked for."""

    label: str  # as the chat settings panel shows it; also the start of an error sentence
    low: float  # what llama.cpp takes (``limits``)
    high: float
    whole: bool = False  # a whole number (else any number from ``low`` to ``high``)
    above_low: bool = False  # ``low`` itself is refused
    ui: tuple[float, float, float] | None = None  # the settings box's range and step
    api: tuple[float, float] | None = None  # the API's range, where OpenAI's is narrower
    preset: bool = False  # a preset sets it
    special: str = ""  # what the settings box shows for its lowest value
    help: str = ""  # a tooltip and the command line's help

    def check(self, value: Any) -> float | int:
        """``value`` as stored (a float for a number), or ``limits.InvalidValue``."""
        what = self.label if "-" in self.label else f"The {self.label.lower()}"  # Top-p as is
        if self.whole:
            return limits.whole(value, what, int(self.low), int(self.high))
        return limits.number(value, what, self.low, self.high, self.above_low)

    def box(self) -> tuple[float, float, float]:
        """The settings box's range and step."""
        return self.ui or (self.low, self.high, 1 if self.whole else 0.01)

    def api_range(self) -> tuple[float, float]:
        return self.api or (self.low, self.high)


def _field(default: Any, spec: Spec) -> Any:
    return field(default=default, metadata={"spec": spec})


def spec(name: str) -> Spec:
    return SPECS[name]


@dataclass(frozen=True)
class Sampling:
    """How a model draws each word. The defaults are the Balanced preset's."""

    # The API takes OpenAI's range (0 to 2); llama.cpp's is wider.
    temperature: float = _field(
        0.7, Spec("Temperature", 0.0, limits.MAX_TEMPERATURE, ui=(0.0, 2.0, 0.05), api=(0, 2),
                  preset=True, help="randomness: 0 always takes the likeliest word")
    )  # fmt: skip
    top_p: float = _field(
        0.95, Spec("Top-p", 0.0, 1.0, preset=True,
                   help="draw from the likeliest words whose chances add up to this")
    )  # fmt: skip
    top_k: int = _field(
        40, Spec("Top-k", 0, limits.MAX_TOP_K, whole=True, ui=(0, 1000, 1), preset=True,
                 help="draw from this many likeliest words at most (0: any)")
    )  # fmt: skip
    min_p: float = _field(
        0.05, Spec("Min-p", 0.0, 1.0, preset=True,
                   help="leave out words less likely than this share of the likeliest")
    )  # fmt: skip
    repeat_penalty: float = _field(
        1.1, Spec("Repeat penalty", 0.0, limits.MAX_REPEAT_PENALTY, above_low=True,
                  ui=(0.5, 2.0, 0.01), preset=True, help="above 1: fewer repeated words")
    )  # fmt: skip
    # 0 or less: until the context is full. One default for the studio, the CLI and the API
    # (it was 1024 in the settings and 512 in the engine's options).
    max_tokens: int = _field(
        1024, Spec("Max tokens", -1, limits.MAX_TOKENS, whole=True, ui=(1, 32768, 1),
                   api=(1, limits.MAX_TOKENS), help="the most tokens one answer may have")
    )  # fmt: skip
    # The box stops at a Qt spin box's int maximum.
    seed: int = _field(
        -1, Spec("Seed", -1, limits.MAX_SEED, whole=True, ui=(-1, 2**31 - 1, 1),
                 special="random",
                 help="the same seed and settings give the same answer; -1: a new one each time")
    )  # fmt: skip

    def __post_init__(self) -> None:
        """Refuse a value out of llama.cpp's range (``limits.InvalidValue``, one sentence):
        NaN, 1e308 or a negative temperature would reach the sampler as they are."""
        for f in fields(Sampling):
            object.__setattr__(self, f.name, f.metadata["spec"].check(getattr(self, f.name)))

    def sampling(self) -> Sampling:
        """These values alone, as a plain ``Sampling`` (also from a subclass)."""
        return Sampling(**{name: getattr(self, name) for name in SPECS})

    @classmethod
    def tolerant(cls, raw: Mapping[str, Any], notes: list[str], where: str = "") -> dict[str, Any]:
        """The values of ``raw`` (a stored JSON object) that may be used, by field name; each
        one of the wrong type or out of range is left out and said in ``notes``."""
        kept = {}
        for name, spec in SPECS.items():
            if name not in raw:
                continue
            value = raw[name]
            try:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise limits.InvalidValue(f"{name} was {json.dumps(value)[:40]}, not a number")
                if spec.whole and not isinstance(value, int):
                    raise limits.InvalidValue(f"{name} was {value}, not a whole number")
                kept[name] = spec.check(value)
            except limits.InvalidValue as exc:
                notes.append(str(exc).rstrip(".").lower() + where)
        return kept

    @classmethod
    def from_json(cls, raw: Any, notes: list[str] | None = None, where: str = "") -> Sampling:
        """A stored object's values, each unusable one at its default."""
        if not isinstance(raw, Mapping):
            return cls()
        return cls(**cls.tolerant(raw, [] if notes is None else notes, where))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SPECS: dict[str, Spec] = {f.name: f.metadata["spec"] for f in fields(Sampling)}
PRESET_FIELDS = tuple(name for name, s in SPECS.items() if s.preset)

PRESETS: dict[str, Sampling] = {
    "Precise": Sampling(temperature=0.2, top_p=0.9),
    "Balanced": Sampling(),
    "Creative": Sampling(temperature=1.0, top_p=0.98, top_k=100, min_p=0.02, repeat_penalty=1.05),
}


def with_preset(sampling: Sampling, name: str) -> Sampling:
    """``sampling`` with the preset's values (max tokens and the seed stay)."""
    preset = PRESETS[name]
    return replace(sampling, **{k: getattr(preset, k) for k in PRESET_FIELDS})


def preset_name(sampling: Sampling) -> str:
    """The preset these sampling values equal, or "Custom"."""
    for name, preset in PRESETS.items():
        if all(
            abs(float(getattr(sampling, k)) - float(getattr(preset, k))) < 1e-9
            for k in PRESET_FIELDS
        ):
            return name
    return "Custom"


# -- the command line ----------------------------------------------------------------------


def add_flags(parser: argparse.ArgumentParser) -> None:
    """``--temperature``, ``--top-p``... one per field; left out, the settings file's applies."""
    for name, spec in SPECS.items():
        parse, kind = (int, "a whole number") if spec.whole else (float, "a number")
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=limits.cli_type(spec.check, parse, kind),
            default=None,
            metavar="N" if spec.whole else "X",
            help=f"{spec.help} (default: the settings file's)",
        )


def from_flags(args: argparse.Namespace, base: Sampling) -> Sampling:
    """``base`` with the values given on the command line."""
    given = {name: getattr(args, name) for name in SPECS if getattr(args, name, None) is not None}
    return replace(base, **given)
