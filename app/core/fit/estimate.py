"""Will a GGUF model fit this machine? Memory needed at a context length and KV-cache type.

Plain arithmetic over what a GGUF header says (tensor types and sizes, attention shape), in
the terms llama.cpp (llama-cpp-python 0.3.36, as Hearth loads models) allocates memory:

* weights: every tensor's bytes, split per layer (``blk.N.*``, offloadable), input (token
  embeddings, always in RAM) and output (``output.weight``; a tied output duplicates the
  embeddings when it goes to a GPU). On CPU, llama.cpp also keeps "repacked" copies of some
  quant types for faster matmuls (which ones depends on the CPU's features).
* KV cache: cells x (row(K) + row(V)) per layer; cells = n_ctx padded to 256, or for
  sliding-window layers ``min(n_ctx, window + n_ubatch)`` when ``swa_full`` is off (llama.cpp's
  default is on). MLA models (``key_length_mla``) keep no V cache.
* compute: the activations of one micro-batch; without flash attention the F32 attention
  matrix ``n_kv x n_ubatch x n_head`` and, on CPU, its F16 copy for the next matmul.
* overhead: the tokenizer's tables, contexts and libraries.
* an image projector (``ModelShape.projector_bytes``): its weights, beside the model's.

The CPU constants are calibrated against measured memory (``app.bench.fit``); the GPU
ones follow llama.cpp's reservation rules and are not yet checked against a real GPU.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from app.core.fit.shape import ModelShape, shape_from_file, shape_from_header, shape_from_size
from app.core.gguf.header import TensorInfo

if TYPE_CHECKING:
    from app.core.hardware.probe import HardwareReport

MIB = 1 << 20
KV_TYPES = {"f16": (1, 2), "q8_0": (32, 34), "q4_0": (32, 18)}  # elements, bytes per block
N_UBATCH = 512
PAD = 256  # llama.cpp pads the context (and so the KV cache) to 256 cells

VERDICT_FULL = "Full GPU offload"
VERDICT_CPU = "CPU only — fits in RAM"
VERDICT_TOO_LARGE = "Too large"

# Calibrated on CPU (see bench_fit): fixed runtime memory, and per tokenizer entry (tokens +
# merges: llama.cpp's vocab maps, the GGUF metadata copy).
OVERHEAD_FIXED = 7 * MIB
OVERHEAD_PER_VOCAB_ENTRY = 180
# Per GPU: driver context, BLAS workspace, pools (from llama.cpp users' reports; unmeasured here)
GPU_RUNTIME = {
    "CUDA": 400 * MIB,
    "ROCm": 400 * MIB,
    "SYCL": 300 * MIB,
    "Vulkan": 150 * MIB,
    "Metal": 0,
}
_LAYER = re.compile(r"^blk\.(\d+)\.")
_EXPERTS = re.compile(r"_exps\b")


def cpu_expert_patterns(cpu_moe_layers: int) -> tuple[str, ...]:
    """llama.cpp's tensor buffer override patterns that keep the experts of the first
    ``cpu_moe_layers`` layers in RAM (as ``--n-cpu-moe N`` builds them in common/arg.cpp)."""
    return tuple(
        rf"blk\.{i}\.ffn_(up|down|gate|gate_up)_exps" for i in range(max(0, cpu_moe_layers))
    )


# -- repacked weights (CPU) ------------------------------------------------------------------

# ggml type -> CPU features under which ggml-cpu keeps a repacked copy, and the row multiple
# (ggml/src/ggml-cpu/repack.cpp, ggml_repack_get_optimal_repack_type)
_Q4_0, _Q4_K, _Q2_K, _Q5_K, _Q6_K, _IQ4_NL, _Q8_0, _MXFP4 = 2, 12, 10, 13, 14, 20, 8, 39
REPACK_RULES: dict[int, tuple[tuple[frozenset[str], int], ...]] = {
    _Q4_0: ((frozenset({"AVX2"}), 8), (frozenset({"NEON", "DOTPROD"}), 4)),
    _Q4_K: ((frozenset({"AVX2"}), 8), (frozenset({"NEON", "DOTPROD"}), 8)),
    _Q2_K: ((frozenset({"AVX512"}), 8),),
    _Q5_K: ((frozenset({"NEON", "DOTPROD"}), 8),),
    _Q6_K: ((frozenset({"NEON", "DOTPROD"}), 8),),
    _IQ4_NL: ((frozenset({"AVX2"}), 8), (frozenset({"NEON", "DOTPROD"}), 4)),
    _Q8_0: ((frozenset({"NEON", "DOTPROD"}), 4),),
    _MXFP4: ((frozenset({"AVX2"}), 8), (frozenset({"NEON", "DOTPROD"}), 4)),
}


def repacked(tensor: TensorInfo, cpu_features: frozenset[str]) -> bool:
    """Whether llama.cpp keeps a repacked copy of this matmul weight (2-D, or 3-D experts) on
    this CPU."""
    if (
        len(tensor.shape) not in (2, 3)
        or tensor.name == "token_embd.weight"
        or "REPACK" not in cpu_features
    ):
        return False
    return any(
        needs <= cpu_features and tensor.shape[1] % rows == 0
        for needs, rows in REPACK_RULES.get(tensor.ggml_type, ())
    )


# -- the estimate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    n_ctx: int
    kv_type: str
    flash_attn: bool
    gpu_layers: int
    cpu_moe_layers: int  # layers whose experts stay in RAM although the layer is on a GPU
    weights_bytes: int
    repack_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    ram_bytes: int
    vram_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.ram_bytes + self.vram_bytes


@dataclass
class _Side:
    weights: int = 0
    repack: int = 0
    kv: int = 0
    compute: int = 0
    overhead: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.repack + self.kv + self.compute + self.overhead


def kv_cells(
    shape: ModelShape, n_ctx: int, layer: int, swa_full: bool = True, n_ubatch: int = N_UBATCH
) -> int:
    cells = _pad(n_ctx)
    if not swa_full and shape.swa_layers and shape.swa_layers[layer]:
        cells = min(cells, _pad(shape.swa_window + n_ubatch))
    return cells


def kv_layer_bytes(
    shape: ModelShape,
    n_ctx: int,
    kv_type: str,
    layer: int,
    swa_full: bool = True,
    n_ubatch: int = N_UBATCH,
) -> int:
    block, size = KV_TYPES[kv_type]
    heads = shape.n_head_kv[layer] if layer < len(shape.n_head_kv) else 0
    k_row = shape.key_length * heads * size // block
    v_row = shape.value_length * heads * size // block if shape.has_v_cache else 0
    return kv_cells(shape, n_ctx, layer, swa_full, n_ubatch) * (k_row + v_row)


def estimate(
    shape: ModelShape,
    n_ctx: int,
    kv_type: str = "f16",
    gpu_layers: int = 0,
    *,
    cpu_features: Iterable[str] = frozenset(),
    backend: str = "CPU",
    n_gpus: int = 1,
    flash_attn: bool | None = None,
    swa_full: bool = True,
    n_ubatch: int = N_UBATCH,
    cpu_moe_layers: int = 0,
) -> Estimate:
    """Memory for ``shape`` at ``n_ctx`` with ``gpu_layers`` offloaded (llama.cpp's count:
    the last layers first, the output layer when ``gpu_layers > n_layers``), the experts of
    the first ``cpu_moe_layers`` layers kept in RAM."""
    if kv_type not in KV_TYPES:
        raise ValueError(f"KV cache type must be one of {', '.join(KV_TYPES)}")
    flash = kv_type != "f16" if flash_attn is None else flash_attn
    features = frozenset(cpu_features)
    gpu_layers = max(0, min(gpu_layers, shape.offload_layers)) if backend != "CPU" else 0
    cpu_moe_layers = max(0, min(cpu_moe_layers, shape.n_layers)) if shape.expert_count else 0
    first_gpu = shape.n_layers - min(gpu_layers, shape.n_layers)
    output_on_gpu = gpu_layers > shape.n_layers
    cpu, gpu = _Side(), _Side()
    if shape.tensors:
        tied = not any(t.name == "output.weight" for t in shape.tensors)
        for tensor in shape.tensors:
            match = _LAYER.match(tensor.name)
            on_gpu = (
                (int(match.group(1)) >= first_gpu)
                if match
                else (output_on_gpu and tensor.name.startswith("output"))
            )
            if match and int(match.group(1)) < cpu_moe_layers and _EXPERTS.search(tensor.name):
                on_gpu = False
            side = gpu if on_gpu else cpu
            side.weights += tensor.nbytes
            if not on_gpu and repacked(tensor, features):
                side.repack += tensor.nbytes
            if tied and tensor.name == "token_embd.weight":
                if output_on_gpu:  # the output layer gets its own copy on the GPU
                    gpu.weights += tensor.nbytes
                elif repacked(replace(tensor, name="output.weight"), features):
                    cpu.repack += tensor.nbytes
    else:  # size only: 90% of the file in the layers, 5% each in embeddings and output
        per_layer = shape.file_size * 0.9 / max(1, shape.n_layers)
        gpu.weights = int(per_layer * (shape.n_layers - first_gpu))
        gpu.weights += int(shape.file_size * 0.05) if output_on_gpu else 0
        cpu.weights = shape.file_size - gpu.weights
    # mtmd puts the projector on the GPU whenever the build drives one (``use_gpu``), even
    # with no layers there; its image buffers (the encoder's compute) are not counted yet.
    (gpu if backend != "CPU" else cpu).weights += shape.projector_bytes
    for layer in range(shape.n_layers):
        side = gpu if layer >= first_gpu else cpu
        side.kv += kv_layer_bytes(shape, n_ctx, kv_type, layer, swa_full, n_ubatch)
    cpu.kv += shape.recurrent_bytes
    tokens = min(n_ubatch, n_ctx)
    activations = _activations(shape, tokens)
    if gpu_layers:
        attention = _pad(n_ctx) * tokens * (2 if flash else shape.n_head * 4 + 4)
        reserve = max(shape.n_vocab * tokens * 4, attention) + activations
        gpu.compute = n_gpus * reserve
        gpu.overhead = n_gpus * GPU_RUNTIME.get(backend, 300 * MIB)
    if gpu_layers < shape.offload_layers:
        cpu.compute = cpu_compute_bytes(shape, n_ctx, flash, n_ubatch)
    elif cpu_moe_layers and gpu_layers:  # the experts' matmuls run on the CPU
        cpu.compute = activations
    else:
        cpu.compute = tokens * 4 * shape.n_embd * 2
    cpu.overhead = OVERHEAD_FIXED + OVERHEAD_PER_VOCAB_ENTRY * (shape.n_vocab + shape.n_merges)
    cpu.overhead += tokens * min(4 * _pad(n_ctx), 4096)  # llama-cpp-python's batch seq_id rows
    if shape.all_logits:  # drafting: n_ctx rows in Python and a batch's in llama.cpp
        cpu.overhead += (n_ctx + min(n_ubatch, n_ctx)) * shape.n_vocab * 4
    return Estimate(
        n_ctx=n_ctx,
        kv_type=kv_type,
        flash_attn=flash,
        gpu_layers=gpu_layers,
        cpu_moe_layers=cpu_moe_layers if gpu_layers else 0,
        weights_bytes=cpu.weights + gpu.weights,
        repack_bytes=cpu.repack,
        kv_cache_bytes=cpu.kv + gpu.kv,
        compute_bytes=cpu.compute + gpu.compute,
        overhead_bytes=cpu.overhead + gpu.overhead,
        ram_bytes=cpu.total,
        vram_bytes=gpu.total,
    )


def cpu_compute_bytes(shape: ModelShape, n_ctx: int, flash: bool, n_ubatch: int = N_UBATCH) -> int:
    """Compute memory a full micro-batch touches on CPU at a full context.

    Without flash attention: the F32 attention scores (n_kv x tokens x heads), their F16 copy
    in ggml's work buffer, the F32 mask (two with sliding-window layers), plus the layer's
    activations. With flash attention: F16 masks and more activations (calibrated).
    """
    tokens = min(n_ubatch, n_ctx)
    n_kv = _pad(n_ctx)
    activations = _activations(shape, tokens)
    # Sliding-window models get a second mask for their window layers (llama.cpp's iSWA
    # cache): measured 8.5 MiB more on the zoo's gemma3 at 4,096 tokens, 4,096 x 512 x 4 bytes.
    masks = 2 if any(shape.swa_layers) else 1
    if flash:
        return (
            n_kv * tokens * 2 * masks + activations + tokens * 4 * 2 * (shape.n_embd + shape.n_ff)
        )
    return n_kv * tokens * (shape.n_head * 6 + 4 * masks) + activations


def _activations(shape: ModelShape, tokens: int) -> int:
    """One layer's F32 activations for ``tokens`` tokens. Multi-head latent attention (MLA)
    adds its queries in the compressed space, absorbed and joined with the rotary part:
    2 x heads x the compressed K row per token (measured on the zoo's deepseek2: 1.4 MiB more
    than llama at every context for the tiny model, 4.8 MiB for the small one; this term
    gives 1.5 and 5.0)."""
    mla = 0 if shape.has_v_cache else 2 * shape.n_head * shape.key_length
    return tokens * 4 * (shape.n_embd + 2 * shape.n_ff + mla)


def _pad(n: int) -> int:
    return -(-n // PAD) * PAD


# -- the verdict for a machine ---------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """What a model can use here: RAM and, per usable GPU, free VRAM (``unified``: one pool,
    as on Apple Silicon, where the GPU part is also taken from RAM)."""

    ram_bytes: int
    gpu_bytes: tuple[int, ...] = ()
    backend: str = "CPU"
    cpu_features: frozenset[str] = frozenset()
    unified_memory: bool = False

    @classmethod
    def from_report(cls, report: HardwareReport) -> Machine:
        """From a ``hardware.HardwareReport``: GPUs count only when the build can use them."""
        gpus = tuple(
            g.vram_free_bytes if g.vram_free_bytes is not None else g.vram_total_bytes
            for g in report.gpus
            if g.usable_by(report.backend)
        )
        usable = bool(gpus) and report.gpu_offload_supported
        return cls(
            ram_bytes=report.ram_available_bytes,
            gpu_bytes=gpus if usable else (),
            backend=report.backend if usable else "CPU",
            cpu_features=frozenset(report.cpu_features),
            unified_memory=usable and any(g.unified_memory for g in report.gpus),
        )


@dataclass(frozen=True)
class Fit:
    verdict: str
    gpu_layers: int  # n_gpu_layers to load with (llama.cpp's count, output layer included)
    offload_layers: int  # M in "N of M": the blocks and the output layer
    max_ctx: int  # the largest context that fits with these GPU layers (0: none fits)
    estimate: Estimate
    exact: bool  # False when the estimate comes from the file size only
    cpu_moe_layers: int = 0  # load setting: the first N layers' experts stay in RAM

    def to_json(self) -> dict[str, Any]:
        e = self.estimate
        return {
            "verdict": self.verdict,
            "gpu_layers": self.gpu_layers,
            "cpu_moe_layers": self.cpu_moe_layers,
            "offload_layers": self.offload_layers,
            "max_ctx": self.max_ctx,
            "n_ctx": e.n_ctx,
            "kv_type": e.kv_type,
            "flash_attn": e.flash_attn,
            "weights_bytes": e.weights_bytes,
            "repack_bytes": e.repack_bytes,
            "kv_cache_bytes": e.kv_cache_bytes,
            "compute_bytes": e.compute_bytes,
            "overhead_bytes": e.overhead_bytes,
            "ram_bytes": e.ram_bytes,
            "vram_bytes": e.vram_bytes,
            "total_bytes": e.total_bytes,
            "exact": self.exact,
        }


def plan(shape: ModelShape, machine: Machine, n_ctx: int, kv_type: str = "f16") -> Fit:
    """The verdict at ``n_ctx``: as many layers on the GPUs as fit, the rest in RAM.

    A mixture-of-experts model that does not fit whole keeps every layer on the GPUs and the
    experts of its first layers in RAM instead (llama.cpp's ``--n-cpu-moe``), when that fits:
    a token reads only the used experts' share of those, while attention and the shared
    weights stay on the GPU."""
    layers = _best_layers(shape, machine, n_ctx, kv_type)
    if layers is not None and layers < shape.offload_layers and shape.expert_count:
        moe = _fewest_cpu_moe_layers(shape, machine, n_ctx, kv_type)
        if moe is not None:
            est = _estimate(shape, machine, n_ctx, kv_type, shape.offload_layers, moe)
            verdict = f"Partial: experts of {moe} of {shape.n_layers} layers in RAM"
            max_ctx = _largest_ctx(shape, machine, kv_type, shape.offload_layers, moe)
            full = shape.offload_layers
            return Fit(verdict, full, full, max_ctx, est, shape.exact, cpu_moe_layers=moe)
    if layers is None:
        best = _largest_ctx(shape, machine, kv_type, None)
        est = _estimate(shape, machine, n_ctx, kv_type, 0)
        return Fit(VERDICT_TOO_LARGE, 0, shape.offload_layers, best, est, shape.exact)
    est = _estimate(shape, machine, n_ctx, kv_type, layers)
    if layers >= shape.offload_layers:
        verdict = VERDICT_FULL
    elif layers > 0:
        verdict = f"Partial: {layers} of {shape.offload_layers} layers on GPU"
    else:
        verdict = VERDICT_CPU
    max_ctx = _largest_ctx(shape, machine, kv_type, layers)
    return Fit(verdict, layers, shape.offload_layers, max_ctx, est, shape.exact)


def _estimate(
    shape: ModelShape, machine: Machine, n_ctx: int, kv_type: str, layers: int, cpu_moe: int = 0
) -> Estimate:
    return estimate(
        shape,
        n_ctx,
        kv_type,
        layers,
        cpu_features=machine.cpu_features,
        backend=machine.backend,
        n_gpus=max(1, len(machine.gpu_bytes)),
        cpu_moe_layers=cpu_moe,
    )


def _fits(
    shape: ModelShape, machine: Machine, n_ctx: int, kv_type: str, layers: int, cpu_moe: int = 0
) -> bool:
    est = _estimate(shape, machine, n_ctx, kv_type, layers, cpu_moe)
    if machine.unified_memory:
        return est.vram_bytes <= sum(machine.gpu_bytes) and est.total_bytes <= machine.ram_bytes
    return est.vram_bytes <= sum(machine.gpu_bytes) and est.ram_bytes <= machine.ram_bytes


def _best_layers(shape: ModelShape, machine: Machine, n_ctx: int, kv_type: str) -> int | None:
    """The most GPU layers that fit, 0 for CPU only, None when nothing fits.

    VRAM use grows with the layers offloaded and RAM use shrinks, so the answer is the most
    layers whose VRAM fits, if RAM then holds the rest (else CPU only, else nothing)."""
    low, high = 0, shape.offload_layers if machine.gpu_bytes else 0
    while low < high:
        mid = (low + high + 1) // 2
        if _estimate(shape, machine, n_ctx, kv_type, mid).vram_bytes <= sum(machine.gpu_bytes):
            low = mid
        else:
            high = mid - 1
    for layers in dict.fromkeys((low, 0)):
        if _fits(shape, machine, n_ctx, kv_type, layers):
            return layers
    return None


def _fewest_cpu_moe_layers(
    shape: ModelShape, machine: Machine, n_ctx: int, kv_type: str
) -> int | None:
    """With every layer on the GPUs, the fewest layers whose experts must stay in RAM for the
    rest to fit (VRAM use falls and RAM use grows with each), None when even all do not."""
    if not machine.gpu_bytes or not _fits(
        shape, machine, n_ctx, kv_type, shape.offload_layers, shape.n_layers
    ):
        return None
    low, high = 0, shape.n_layers
    while low < high:
        mid = (low + high) // 2
        if _fits(shape, machine, n_ctx, kv_type, shape.offload_layers, mid):
            high = mid
        else:
            low = mid + 1
    return low


def _largest_ctx(
    shape: ModelShape, machine: Machine, kv_type: str, layers: int | None, cpu_moe: int = 0
) -> int:
    """The largest context (a multiple of 256, at most the trained one) that fits with
    ``layers`` on the GPU (and ``cpu_moe`` layers' experts in RAM), or in any placement when
    ``layers`` is None."""

    def ok(ctx: int) -> bool:
        if layers is None:
            return _best_layers(shape, machine, ctx, kv_type) is not None
        return _fits(shape, machine, ctx, kv_type, layers, cpu_moe)

    low, high = 0, max(1, shape.n_ctx_train // PAD)
    while low < high:
        mid = (low + high + 1) // 2
        if ok(mid * PAD):
            low = mid
        else:
            high = mid - 1
    return low * PAD


__all__ = [
    "Estimate",
    "cpu_expert_patterns",
    "Fit",
    "Machine",
    "ModelShape",
    "estimate",
    "plan",
    "shape_from_file",
    "shape_from_header",
    "shape_from_size",
]
