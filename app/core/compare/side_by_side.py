"""Side by side and the blind arena, the plain parts: may the models run at once, which labels
the arena's columns get, and which votes a pick of the best answer makes.

``schedule`` adds up what the fit estimator (``app.core.fit.estimate``) says each model needs at the
compare context: when all of them fit in free memory together they run at once, else one
after another (each loaded, answering and unloaded before the next). ``with_remote`` adds
columns answered on a remote server: they use no memory here and always answer at once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.common.units import format_size
from app.core.fit import estimate

N_CTX = 2048  # one prompt and a short answer: a small context keeps several models in memory
MIN_MODELS, MAX_MODELS = 2, 4


@dataclass(frozen=True)
class Schedule:
    together: bool
    gpu_layers: tuple[int, ...]  # per model, when together (else chosen at each load)
    needed_bytes: int
    free_bytes: int
    message: str


def schedule(paths: Sequence[Path], machine: estimate.Machine, n_ctx: int = N_CTX) -> Schedule:
    """At once when every model's estimate fits beside the others, else one after another."""
    plans = [estimate.plan(estimate.shape_from_file(Path(p)), machine, n_ctx) for p in paths]
    ram = sum(p.estimate.ram_bytes for p in plans)
    vram = sum(p.estimate.vram_bytes for p in plans)
    total = sum(p.estimate.total_bytes for p in plans)
    free = machine.ram_bytes + (0 if machine.unified_memory else sum(machine.gpu_bytes))
    if machine.unified_memory:
        fits = total <= machine.ram_bytes and vram <= sum(machine.gpu_bytes)
    else:
        fits = ram <= machine.ram_bytes and vram <= sum(machine.gpu_bytes)
    fits = fits and all(p.verdict != estimate.VERDICT_TOO_LARGE for p in plans)
    if fits:
        both = "Both models" if len(plans) == 2 else f"All {len(plans)} models"
        message = (
            f"{both} fit in memory together (about "
            f"{format_size(total)} of {format_size(free)} free): they answer at once."
        )
        if not machine.gpu_bytes:
            message += " They share the processor, so each runs slower than it would alone."
    else:
        message = (
            f"The {len(plans)} models need about {format_size(total)} together and "
            f"{format_size(free)} is free: they answer one after another."
        )
    return Schedule(
        together=fits,
        gpu_layers=tuple(p.gpu_layers for p in plans),
        needed_bytes=total,
        free_bytes=free,
        message=message,
    )


def with_remote(local: Schedule | None, remote: Sequence[bool]) -> Schedule:
    """The schedule of a round whose columns are local (False) or remote (True): ``local`` is
    the schedule of the local columns in order (None when there are none, or they are loaded).
    Remote columns get no GPU layers here and answer at once, beside the local ones."""
    n_remote = sum(1 for r in remote if r)
    n_local = len(remote) - n_remote
    if local is None:
        local = Schedule(True, (0,) * n_local, 0, 0, "")
    layers = iter(local.gpu_layers)
    gpu_layers = tuple(0 if r else next(layers, 0) for r in remote)
    if not n_remote:
        return Schedule(
            local.together, gpu_layers, local.needed_bytes, local.free_bytes, local.message
        )
    on_server = (
        "The remote model answers on its server"
        if n_remote == 1
        else "The remote models answer on their servers"
    )
    if not n_local:
        message = f"{on_server}, at once." if n_remote > 1 else f"{on_server}."
    elif n_local == 1:
        message = f"{on_server}, at once beside the local model."
    elif local.together:
        message = f"{local.message} {on_server}, beside them."
    else:
        message = (
            f"{local.message.removesuffix('.')}; {on_server[0].lower()}{on_server[1:]}, at once."
        )
    return Schedule(
        local.together or n_local <= 1, gpu_layers, local.needed_bytes, local.free_bytes, message
    )


def arena_labels(models: Sequence[tuple[str, str | None]]) -> list[str]:
    """The label each (name, quant) is tallied under: the quant when that tells them apart,
    else name and quant (two models at the same quant), numbered if still the same."""
    quants = [q or "?" for _, q in models]
    if len(set(quants)) == len(quants) and "?" not in quants:
        labels = quants
    else:
        labels = [f"{name} {q or ''}".strip() for name, q in models]
    return _numbered(labels)


def round_labels(columns: Sequence[tuple[str, str | None] | str]) -> list[str]:
    """``arena_labels`` for a round that may have remote columns: a ``str`` is a remote
    column's label ("Connection · model"), kept as it is; the local (name, quant) columns are
    labelled among themselves."""
    local = iter(arena_labels([c for c in columns if not isinstance(c, str)]))
    return _numbered([c if isinstance(c, str) else next(local) for c in columns])


def _numbered(labels: list[str]) -> list[str]:
    """``labels`` with repeats told apart: "X", "X (2)", "X (3)"..."""
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique


def blind_order(count: int, rng: random.Random | None = None) -> list[int]:
    """A shuffled order of the picked models for the arena's columns A, B, ..."""
    order = list(range(count))
    (rng or random.Random()).shuffle(order)
    return order


def column_letter(index: int) -> str:
    return "ABCD"[index]


def votes_for(labels: Sequence[str], best: int | None) -> list[tuple[str, str, str]]:
    """The pairwise votes (model_a, model_b, winner) of one arena round.

    ``best`` is the column picked as the better (or best) answer, ``None`` for a tie. Two
    columns give one vote; with more, the best beats each of the others, and a tie is a tie
    between every pair.
    """
    if best is None:
        return [
            (labels[i], labels[j], "tie")
            for i in range(len(labels))
            for j in range(i + 1, len(labels))
        ]
    if not 0 <= best < len(labels):
        raise ValueError(f"no column {best}")
    if len(labels) == 2:
        return [(labels[0], labels[1], "A" if best == 0 else "B")]
    return [(labels[best], other, "A") for i, other in enumerate(labels) if i != best]
