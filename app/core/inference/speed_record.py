"""``record_answer``: a chat answer of a local model as a point of the measured speed log.

It lives in ``inference``, above ``fit``, because it reads the answer's inference types
(``LoadedModel``, ``GenerationStats``); ``fit.speed_log`` stores plain ``Run``s and knows
nothing of inference (it imported these types for its annotations: a cycle that only the
type checker saw).
"""

from __future__ import annotations

import time
from pathlib import Path

from app.core.fit import speed_log
from app.core.inference.types import GenerationStats, LoadedModel


def record_answer(
    loaded: LoadedModel | None, stats: GenerationStats, data_dir: Path | None = None
) -> speed_log.Run | None:
    """Record the answer ``stats`` of ``loaded`` (None for a remote model: not recorded).
    Answers under ``speed_log.MIN_TOKENS`` tokens are not recorded. Writes a small JSON file
    with fsync: run it off the GUI thread."""
    if loaded is None or stats.tokens < speed_log.MIN_TOKENS or stats.tokens_per_second <= 0:
        return None
    from app.core.common.paths import default_paths
    from app.core.gguf import quant_types
    from app.core.hardware import cpu_speed

    path = Path(loaded.path)
    try:
        size = path.stat().st_size
    except OSError:
        return None
    run = speed_log.Run(
        machine=cpu_speed.this_machine(),
        path=str(path),
        name=path.name,
        size=size,
        quant=quant_types.quant_from_name(path.name),
        depth=max(0, stats.context_used - stats.tokens // 2),
        gpu_layers=loaded.gpu_layers,  # -1: all of them
        threads=loaded.n_threads,
        tok_s=float(stats.tokens_per_second),
        tokens=stats.tokens,
        when=time.time(),
    )
    speed_log.record(data_dir or default_paths().data_dir, run)
    return run
