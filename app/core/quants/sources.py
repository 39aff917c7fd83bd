"""Where the quant picker's rows come from: a Hub repo's files, or a local family of files.

* Hub: the repo's model files (``hub_files.QuantFile``) with the shape read from one file's
  header over HTTP Range (the others keep its architecture, resized to their own size), or a
  typical shape of each size when no header could be read.
* Local: the files of My Models that are quants of the same model as the selected one: same
  architecture and parameter count in their headers and, when both headers carry one, the same
  ``general.name``. Each file's own header gives its shape; the user's stored measurement of it
  (``measure.stored_measurement``), if any, gives its measured quality.

These read files or the network: call them off the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.common.errors import HearthError
from app.core.fit.shape import ModelShape, shape_from_header, shape_from_hub, shape_from_size
from app.core.gguf.header import read_local_header
from app.core.hub.files import QuantFile
from app.core.quants.pick import QuantItem, resized

if TYPE_CHECKING:
    from app.core.library.catalog import LocalModel
    from app.core.measure.store import MeasureStore

log = logging.getLogger("hearth.quant_pick")


def hub_items(
    files: Sequence[QuantFile],
    shape: ModelShape | None = None,
    *,
    parameters: int | None = None,
    n_ctx_train: int | None = None,
    projector_bytes: int = 0,
) -> list[QuantItem]:
    """Rows for a repo's model files; ``shape`` read from one of them (else sizes only).
    ``projector_bytes``: the image projector that downloads and loads with each of them."""
    items = []
    for entry in files:
        if shape is not None:
            sized = resized(shape, entry.name, entry.size_bytes, entry.quant)
        else:
            sized = shape_from_size(entry.size_bytes, entry.name)
            if n_ctx_train:
                sized = replace(sized, n_ctx_train=n_ctx_train)
        sized = replace(sized, projector_bytes=projector_bytes)
        items.append(
            QuantItem(entry.name, entry.label, entry.quant, entry.size_bytes, sized, parameters)
        )
    return items


def read_hub_shape(
    repo_id: str,
    files: Sequence[QuantFile],
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> ModelShape | None:
    """The shape from the smallest file's header (Range requests), or None if unreadable."""
    if not files:
        return None
    try:
        return shape_from_hub(
            repo_id, files[0].name, revision=revision, endpoint=endpoint, token=token
        )
    except HearthError as exc:
        log.info("Quants of %s from file sizes only: %s", repo_id, exc)
        return None


def family(selected: LocalModel, models: Sequence[LocalModel]) -> list[LocalModel]:
    """The library models (``library.LocalModel``) of the same model as ``selected``: same
    architecture and parameters. Unknown facts make a family of one."""
    if not selected.architecture or not selected.parameters:
        return [selected]
    return [
        m
        for m in models
        if m is selected
        or (m.architecture == selected.architecture and m.parameters == selected.parameters)
    ]


def local_items(
    selected: LocalModel, models: Sequence[LocalModel], store: MeasureStore | None = None
) -> list[QuantItem]:
    """Rows for the family of ``selected`` among ``models``, with stored measurements."""
    from app.core.measure.measurement import stored_measurement

    selected_name = _general_name(selected.path)
    items = []
    for model in family(selected, models):
        try:
            header = read_local_header(model.path)
        except Exception as exc:  # noqa: BLE001 - a damaged file is left out of the picker
            log.info("Quants: %s left out: %s", model.path, exc)
            continue
        name = header.get("general.name")
        if model is not selected and selected_name and name and name != selected_name:
            continue
        shape = shape_from_header(header, Path(model.path).stat().st_size, Path(model.path).name)
        if len(model.all_files) > 1:  # split: the first shard's header, all shards' size
            shape = resized(shape, shape.name, model.size_bytes, model.quant)
        measurement = None
        if store is not None:
            try:
                measurement = stored_measurement(store, Path(model.path))
            except HearthError as exc:
                log.warning("Measurements not readable: %s", exc)
        items.append(
            QuantItem(
                str(model.path),
                Path(model.path).name,
                model.quant or shape.quant,
                model.size_bytes,
                shape,
                model.parameters,
                measurement,
            )
        )
    return items


def _general_name(path: str | Path) -> str | None:
    try:
        name = read_local_header(Path(path)).get("general.name")
        return name if isinstance(name, str) else None
    except Exception:  # noqa: BLE001 - no name: grouped by architecture and parameters only
        return None
