"""My Models' "Speed here": each local file's speed as the quant picker tells it.

The same figures as the picker's "Speed here" column (``quants.pick.rows`` with the machine's
``fit.speed_here.SpeedHere``: measured, calibrated by the user's runs, or estimated), for each
file alone at the picker's default context. Plain Python that blocks (the first use probes the
CPU, about half a second, and every file's header is read): the page runs it with ``run_task``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.core.common.errors import HearthError
from app.core.fit.shape import shape_from_file
from app.core.quants import pick
from app.core.quants.pick import QuantItem

if TYPE_CHECKING:
    from app.core.fit.machine_info import MachineInfo
    from app.core.fit.speed import Speed
    from app.core.fit.speed_here import SpeedHere
    from app.core.library.catalog import LocalModel

log = logging.getLogger("hearth.ui.my_models")

N_CTX = 8192  # as the quant picker opens (its DEFAULT_CTX), or the model's own when shorter


def speeds_here(
    models: Sequence[LocalModel],
    info: MachineInfo,
    *,
    machine=None,
    speeds: SpeedHere | None = None,
) -> dict[str, Speed | None]:
    """Each model's speed here by path (None when it cannot be told: a file Hearth refuses,
    a GPU of unknown speed, too large to load). ``machine`` (a ``fit.Machine``) and ``speeds``
    fix the machine, as the picker's do; else ``info`` (the studio's ``MachineInfo``) tells."""
    try:
        here = machine or info.machine()
        if speeds is None and machine is None:
            speeds = info.speeds()
    except (OSError, ValueError) as exc:  # as the picker: no figures rather than an error
        log.warning("No speed figures: %s", exc)
        return {}
    if speeds is None:
        return {}
    found: dict[str, Speed | None] = {}
    for model in models:
        path = str(model.path)
        found[path] = None
        if model.problem:
            continue
        try:
            shape = shape_from_file(model.path)
        except (HearthError, OSError, ValueError) as exc:
            log.info("No speed for %s: %s", path, exc)
            continue
        item = QuantItem(path, model.path.name, model.quant, model.size_bytes, shape)
        n_ctx = min(N_CTX, model.context_length or N_CTX)
        found[path] = pick.rows([item], here, n_ctx, speeds=speeds)[0].speed
    return found
