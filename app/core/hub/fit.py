"""Whether a Hub search result fits this machine, and what that estimate rests on.

Discover's "Fits this machine" filter and its fit badges use the best basis at hand, in order:

* ``header``: the model page already read the GGUF header of the repo's smallest file (layers,
  attention, vocabulary, real tensor sizes), kept by repo in ``HubClient``;
* ``file size``: the real size of the smallest file (the model page's file list, or a listing
  that carries sizes), with the context length the Hub reports (``gguf.context_length``);
* ``parameters``: the parameter count (the Hub's ``gguf.total``, else the name's "8B") times the
  bits per weight of the smallest quant the repo lists, or of a Q4_K_M file (the usual choice)
  when the listing names no quant.

With none of these, there is no badge (``None``): Discover shows such a model as "fit unknown"
rather than hiding it (a 135M model was hidden for a listing without file sizes, issue 19).

Each is sized at the context Hearth would load with (the model's own, capped at 8192). With this
machine's speed figures (``fit.speed_here.SpeedHere``), a badge also says how fast that file
would write here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.core.common.units import format_size
from app.core.config import presets
from app.core.fit.estimate import VERDICT_FULL, VERDICT_TOO_LARGE, Machine, plan
from app.core.fit.shape import ModelShape, shape_from_size
from app.core.fit.speed import CHAT_DEPTH, Speed
from app.core.gguf import quant_types
from app.core.hub.files import HubModel, format_params

if TYPE_CHECKING:  # only its type: the speed figures are read by the caller
    from app.core.fit.speed_here import SpeedHere

BASIS_HEADER, BASIS_FILE_SIZE, BASIS_PARAMETERS = "header", "file size", "parameters"
USUAL_QUANT = "Q4_K_M"  # assumed when a listing names no quant
FIT_UNKNOWN = "Fit unknown"
FIT_UNKNOWN_WHY = (
    "Hearth cannot tell whether it fits: the Hub's listing gives neither its file sizes nor its "
    "parameter count. Open it to read its file header."
)
BASIS_LABELS = {
    BASIS_HEADER: "from its file header",
    BASIS_FILE_SIZE: "from its file size",
    BASIS_PARAMETERS: "from its parameter count",
}


@dataclass(frozen=True)
class FitBadge:
    """A result's fit verdict (``fit.VERDICT_*`` or ``Partial: ...``) and its basis."""

    verdict: str
    basis: str
    detail: str = ""  # what was estimated: "Q4_K_M, 1.1 GB, 8,192 tokens"
    speed: Speed | None = None  # that file's speed here, when told

    @property
    def fits(self) -> bool:
        return self.verdict != VERDICT_TOO_LARGE

    @property
    def short(self) -> str:
        """The verdict in a few words: ``Fits in RAM``, ``Fits on GPU``, ``Too large``."""
        if self.verdict == VERDICT_FULL:
            return "Fits on GPU"
        if self.verdict.startswith("Partial"):
            return "Fits, partly on GPU"
        return "Fits in RAM" if self.fits else "Too large"

    @property
    def label(self) -> str:
        """The badge's text: ``Fits in RAM · ~14 tok/s · from its parameter count``."""
        speed = f" · {self.speed.short}" if self.speed is not None else ""
        return f"{self.short}{speed} · {BASIS_LABELS[self.basis]}"

    @property
    def explanation(self) -> str:
        """The badge's tooltip: what the estimate used and how to get a closer one."""
        used = {
            BASIS_HEADER: "Estimated from the GGUF header of the smallest file (read when "
            "you opened the model's page)",
            BASIS_FILE_SIZE: "Estimated from the real size of the smallest file; layers "
            "and attention are assumed typical",
            BASIS_PARAMETERS: "Rough estimate from the parameter count and the smallest "
            "quant's bits per weight",
        }[self.basis]
        more = (
            ""
            if self.basis == BASIS_HEADER
            else " Open the model to read its file header for a closer estimate."
        )
        speed = (
            f" About {self.speed.gen_tok_s:,.1f} tokens a second here ({self.speed.basis})."
            if self.speed is not None
            else ""
        )
        return f"{self.verdict}. {used}: {self.detail}.{speed}{more}"


def estimate(
    model: HubModel,
    machine: Machine,
    shape: ModelShape | None = None,
    speeds: SpeedHere | None = None,
) -> FitBadge | None:
    """The badge of ``model``'s smallest file on ``machine``; None when nothing is known about
    its size. ``shape``: the smallest file's shape the model page read (by repo); ``speeds``:
    this machine's speed figures (none without). A LoRA adapter repo has none: it is loaded
    with its base model, whose fit is the one that counts."""
    if model.adapter_of is not None:
        return None
    if shape is not None and shape.exact:
        return _badge(shape, machine, BASIS_HEADER, speeds)
    if shape is not None and shape.file_size:
        return _badge(_with_context(shape, model), machine, BASIS_FILE_SIZE, speeds)
    if model.smallest_bytes:
        sized = shape_from_size(model.smallest_bytes, model.smallest_file or model.id)
        return _badge(_with_context(sized, model), machine, BASIS_FILE_SIZE, speeds)
    if model.size_range and model.quants:
        sized = replace(shape_from_size(model.size_range[0], model.id), quant=model.quants[0])
        badge = _badge(_with_context(sized, model), machine, BASIS_PARAMETERS, speeds)
        return replace(
            badge, detail=f"{format_params(model.parameters)} parameters, {badge.detail}"
        )
    if model.parameters:  # no quant named: as a Q4_K_M file of that many parameters would be
        bits = quant_types.typical_bits(USUAL_QUANT) or 4.9
        size = int(model.parameters * bits / 8)
        sized = replace(shape_from_size(size, model.id), quant=USUAL_QUANT)
        badge = _badge(_with_context(sized, model), machine, BASIS_PARAMETERS, speeds)
        return replace(
            badge, detail=f"{format_params(model.parameters)} parameters, {badge.detail}"
        )
    return None


def _with_context(shape: ModelShape, model: HubModel) -> ModelShape:
    return replace(shape, n_ctx_train=model.context_length) if model.context_length else shape


def _badge(
    shape: ModelShape, machine: Machine, basis: str, speeds: SpeedHere | None = None
) -> FitBadge:
    n_ctx = presets.context_length(0, shape.n_ctx_train)
    layers = plan(shape, machine, n_ctx)
    verdict = layers.verdict
    speed = None
    if speeds is not None and verdict != VERDICT_TOO_LARGE:
        speed = speeds.speed(
            shape, layers.gpu_layers, min(CHAT_DEPTH, n_ctx), layers.cpu_moe_layers
        )
    what = ", ".join(
        p for p in (shape.quant, format_size(shape.file_size), f"{n_ctx:,} tokens") if p
    )
    return FitBadge(verdict, basis, what, speed)
