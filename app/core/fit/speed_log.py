"""The generation speeds measured on this machine: every chat answer of a local model is a data
point (file, quant, context depth, GPU layers, threads, tokens per second).

Stored in the app data folder as one small JSON file (``speed_runs.json``, the newest
``MAX_RUNS`` points), read with Hearth's tolerant reader and written atomically; a damaged
file is kept aside and the log starts again. Each point names the machine it was measured on,
so a data folder synced between two computers calibrates each with its own runs. A chat
answer becomes a run in ``inference.speed_record`` (above this layer: it reads inference's types).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from app.core.common.json_file import Damaged, read_json, write_json

log = logging.getLogger("hearth.fit")

FILE_NAME = "speed_runs.json"
MAX_RUNS = 200
MIN_TOKENS = 16  # shorter answers time mostly the first token's overhead


@dataclass(frozen=True)
class Run:
    machine: str  # ``cpu_speed.identity`` of the machine it ran on
    path: str
    name: str
    size: int
    quant: str | None
    depth: int  # tokens in the context, on average, while it generated
    gpu_layers: int
    threads: int
    tok_s: float
    tokens: int
    when: float = 0.0


def _parse(data: Any, notes: list[str]) -> list[Run]:
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise Damaged("it is not a list of runs")
    runs = []
    names = [f.name for f in fields(Run)]
    for item in data["runs"][-MAX_RUNS:]:
        try:
            run = Run(**{n: item[n] for n in names})
        except (KeyError, TypeError):
            notes.append("a run with missing values was dropped")
            continue
        ok = (
            isinstance(run.tok_s, (int, float))
            and math.isfinite(run.tok_s)
            and 0 < run.tok_s < 1e6
            and all(isinstance(v, int) and v >= -1 for v in (run.depth, run.gpu_layers, run.size))
            and isinstance(run.path, str)
            and isinstance(run.machine, str)
        )
        if ok:
            runs.append(run)
        else:
            notes.append("a run with values out of range was dropped")
    return runs


def _dump(runs: list[Run]) -> dict[str, Any]:
    return {"version": 1, "runs": [asdict(r) for r in runs]}


def runs(data_dir: Path, machine: str | None = None) -> list[Run]:
    """The stored runs, oldest first; only ``machine``'s when given."""
    loaded = read_json(
        Path(data_dir) / FILE_NAME, "The log of measured speeds", _parse, list, dump=_dump
    )
    if loaded.message:
        log.warning("%s", loaded.message)
    return [r for r in loaded.value if machine is None or r.machine == machine]


def record(data_dir: Path, run: Run) -> None:
    """Add one run (the oldest go past ``MAX_RUNS``). A data folder that cannot be written
    loses the point, not the answer: logged, never raised."""
    try:
        kept = runs(data_dir)[-(MAX_RUNS - 1) :]
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        write_json(Path(data_dir) / FILE_NAME, _dump([*kept, run]), indent=None)
    except OSError as exc:
        log.warning("Could not store a measured speed: %s", exc)
