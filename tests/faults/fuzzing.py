"""The fault suite's generated cases, set one way for every fuzzed test: reproducible (the same
cases on every run and machine, no example database), no deadline per case (a loaded CI
machine's slow case is not a fault), and slow or large generated data tolerated. A longer hunt:
``HEARTH_FUZZ_EXAMPLES=400 pytest -m faults``."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def examples(default: int) -> int:
    """The generated cases a test runs: ``default``, or ``HEARTH_FUZZ_EXAMPLES`` when set."""
    return int(os.environ.get("HEARTH_FUZZ_EXAMPLES", "0")) or default


def fuzzed(max_examples: int, *more_checks_off: HealthCheck) -> settings:
    """Hypothesis' settings for a fuzzed test of ``max_examples`` cases."""
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=max_examples,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, *more_checks_off],
    )
