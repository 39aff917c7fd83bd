"""How fast a GGUF model will run here, before it is downloaded: tokens per second generating
and reading a prompt.

Generating one token reads every weight that takes part once, plus the KV cache written so far,
so its time is memory traffic over bandwidth, plus a fixed cost per token (graph, sampling)::

    t_token = cpu_bytes / (eta_cpu * bw_cpu) + cpu_work / flops_cpu
              + gpu_bytes / (eta_gpu * bw_gpu) + t0

On the CPU a token's matrix-vector products also cost compute: per active weight, the work of
ggml's kernel for the weight's type (``devices.CPU_WEIGHT_COST``, in FLOPs of the probe's
rate: a Q5_0 weight costs about twice a Q8_0 one), and a start-up cost per matrix product
(``devices.CPU_MATRIX_COST``) and a smaller one per vector operation, a norm or a bias
(``devices.CPU_VECTOR_COST``); on a GPU they do not count.

Bytes read per token, from the header's tensor list: every weight of the blocks and the output
matrix (the token-embedding matrix only when the output is tied to it: otherwise one row of it
is read), the used share (``expert_used_count / expert_count``) of mixture-of-experts tensors
(``*_exps``), and K and V rows for every token already in the context (sliding-window layers
at most their window). With some layers on a GPU, their bytes go to the GPU's side (the last
layers first, as llama.cpp offloads).

Reading a prompt is compute-bound: about 2 FLOPs per active weight per token.

Known miss: every weight is taken as read from RAM. A model whose weights fit in the CPU's
last-level cache reads them faster, and its small matrices start faster: the model zoo's tiny
files (7-15 MB, the starter's 49,152-token output head most of it, against 32 MiB of L3 on the
2-core test VM) are predicted at 0.45-0.76 of their measured speed (Q8_0, every architecture,
1 thread). Real downloads are far above any cache, and the benchmark's smallest files (the
zoo's ~50M-weight ones, 36-116 MB) are within 0.89-1.08 in quiet runs, so the formula has no
cache term.

The devices and their efficiency factors are in ``fit.devices``; the user's own measured runs
move the figures (``fit.speed_log``). Each figure carries its basis: ``estimated`` (this
formula), ``calibrated`` (scaled by this machine's measured runs of other files) or
``measured`` (this file was measured here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.fit.devices import (
    CPU_MATRIX_COST,
    CPU_VECTOR_COST,
    Device,
    cpu_device,
    cpu_quant_cost,
    cpu_weight_cost,
    gpu_device,
)
from app.core.fit.estimate import KV_TYPES
from app.core.fit.shape import ModelShape
from app.core.gguf import quant_types

if TYPE_CHECKING:
    from app.core.hardware.cpu_speed import CpuSpeed
    from app.core.hardware.probe import HardwareReport

ESTIMATED, CALIBRATED, MEASURED = "estimated", "calibrated", "measured"
CHAT_DEPTH = 1024  # tokens already in a chat when a speed is told (the KV cache it reads)
_LAYER = re.compile(r"^blk\.(\d+)\.")
_EXPERTS = re.compile(r"_exps\b")
_CONVOLUTION = re.compile(r"\.(ssm_conv1d|shortconv\.conv)\.weight$")


@dataclass(frozen=True)
class Traffic:
    """Per generated token: bytes each side reads; per prompt token: FLOPs each side does;
    ``cpu_work``: a generated token's products on the CPU, in the probe's FLOPs (by weight type,
    and the start-up of each matrix product)."""

    cpu_bytes: float
    gpu_bytes: float
    cpu_flops: float
    gpu_flops: float
    cpu_work: float = 0.0


@dataclass(frozen=True)
class Speed:
    """A speed figure for one file here, and what it rests on."""

    gen_tok_s: float
    prompt_tok_s: float
    basis: str  # ESTIMATED, CALIBRATED or MEASURED (of the generation speed)
    depth: int  # tokens already in the context

    @property
    def short(self) -> str:
        """As the quant picker shows it: ``~14 tok/s`` (``14 tok/s`` when measured)."""
        return f"{'' if self.basis == MEASURED else '~'}{_rounded(self.gen_tok_s)} tok/s"

    def to_json(self) -> dict[str, Any]:
        return {
            "gen_tok_s": round(self.gen_tok_s, 2),
            "prompt_tok_s": round(self.prompt_tok_s, 1),
            "speed_basis": self.basis,
            "speed_depth": self.depth,
        }


@dataclass(frozen=True)
class SpeedMachine:
    """The devices a model can run on here: the CPU, and the GPU layers go to (if any)."""

    cpu: Device
    gpu: Device | None = None

    @classmethod
    def from_report(
        cls, report: HardwareReport, cpu_speed: CpuSpeed, threads: int | None = None
    ) -> SpeedMachine:
        """From a ``hardware.HardwareReport`` and the CPU probe (``hardware.CpuSpeed``).
        ``threads``: llama.cpp's threads (default: physical cores but one, as Hearth loads)."""
        threads = threads or max(1, report.cores - 1)
        gpu = None
        if report.gpu_offload_supported:
            usable = [g for g in report.gpus if g.usable_by(report.backend)]
            gpu = next((d for d in (gpu_device(g, report.backend) for g in usable) if d), None)
        return cls(cpu_device(cpu_speed, threads, report.cpu or "CPU"), gpu)


def traffic(
    shape: ModelShape,
    gpu_layers: int = 0,
    depth: int = 0,
    kv_type: str = "f16",
    cpu_moe_layers: int = 0,
) -> Traffic:
    """Bytes read per generated token and FLOPs per prompt token, split between the CPU and
    the GPU holding the last ``gpu_layers`` layers (llama.cpp's count: the output layer when
    ``gpu_layers > n_layers``); the experts of the first ``cpu_moe_layers`` layers are read
    by the CPU."""
    gpu_layers = max(0, min(gpu_layers, shape.offload_layers))
    first_gpu = shape.n_layers - min(gpu_layers, shape.n_layers)
    output_on_gpu = gpu_layers > shape.n_layers
    share = (
        shape.expert_used_count / shape.expert_count
        if shape.expert_count and shape.expert_used_count
        else 1.0
    )
    cpu_b = gpu_b = cpu_f = gpu_f = cpu_w = 0.0
    if shape.tensors:
        tied = not any(t.name == "output.weight" for t in shape.tensors)
        for tensor in shape.tensors:
            match = _LAYER.match(tensor.name)
            if tensor.name == "token_embd.weight" and not tied:
                continue  # generation reads one row of it; the output matrix is apart
            if match:
                on_gpu = int(match.group(1)) >= first_gpu
            else:
                on_gpu = output_on_gpu and tensor.name.startswith(("output", "token_embd"))
            expert = bool(_EXPERTS.search(tensor.name))
            if expert and match and int(match.group(1)) < cpu_moe_layers:
                on_gpu = False
            used = share if expert else 1.0
            nbytes, flops = tensor.nbytes * used, 2.0 * tensor.n_elements * used
            if on_gpu:
                gpu_b, gpu_f = gpu_b + nbytes, gpu_f + flops
            else:
                cpu_b, cpu_f = cpu_b + nbytes, cpu_f + flops
                cpu_w += tensor.n_elements * used * cpu_weight_cost(tensor.ggml_type)
                cpu_w += _start_up(tensor.name, tensor.shape, expert)
    else:  # size only: 90% of the file in the layers, 5% in the output (as fit.estimate)
        params = _params_of(shape)
        layer = 0.9 / max(1, shape.n_layers)
        gpu_part = layer * (shape.n_layers - first_gpu) + (0.05 if output_on_gpu else 0.0)
        gpu_b, cpu_b = shape.file_size * gpu_part, shape.file_size * (0.95 - gpu_part)
        gpu_f = 2 * params * gpu_part / 0.95
        cpu_f = 2 * params - gpu_f
        cpu_w = cpu_f / 2 * cpu_quant_cost(shape.quant)  # 7 matrices, 2 norms a layer, as llama's
        starts = 7 * CPU_MATRIX_COST + 2 * CPU_VECTOR_COST
        cpu_w += starts * shape.n_layers * (1 - gpu_part / 0.95) + CPU_MATRIX_COST + CPU_VECTOR_COST
    for layer_index in range(shape.n_layers):
        kv = kv_read_bytes(shape, layer_index, depth, kv_type)
        if layer_index >= first_gpu:
            gpu_b += kv
        else:
            cpu_b += kv
    cpu_b += 2 * shape.recurrent_bytes  # recurrent state: read and written every token
    return Traffic(cpu_b, gpu_b, cpu_f, gpu_f, cpu_w)


def _start_up(name: str, shape: tuple[int, ...], expert: bool) -> float:
    """The start-up cost of the operations a token runs with one tensor, in probe FLOPs. A
    vector (a norm, a bias, attention sinks; an expert tensor's bias too) is one cheap vector
    operation. A 3-D tensor is one matrix product per head. An expert tensor is one product
    whatever the number of experts used (llama.cpp runs them in one ``mul_mat_id``): counted per
    used expert, the zoo's gpt-oss and qwen3moe files were predicted 0.80 - 0.87 of their
    measured speed here, as one, 0.85 - 0.97 (``hearth bench speed``, one quiet run). A
    tensor with a dimension of 1 (a recurrent layer's ``ssm_a``, ``ssm_d``) or a convolution's
    kernel (``ssm_conv1d``, ``shortconv.conv``) takes part in one element-wise, scan or
    convolution operation, not a matrix product: counted as products, the zoo's granitehybrid
    small files were predicted 0.86 - 0.93 of their measured speed in three runs."""
    if len(shape) == 1 or name.endswith(".bias") or 1 in shape or _CONVOLUTION.search(name):
        return CPU_VECTOR_COST
    if expert or len(shape) < 3:
        return CPU_MATRIX_COST
    count = 1
    for dim in shape[2:]:
        count *= dim
    return count * CPU_MATRIX_COST


def kv_read_bytes(shape: ModelShape, layer: int, depth: int, kv_type: str = "f16") -> int:
    """K and V bytes one layer reads per generated token with ``depth`` tokens in context."""
    block, size = KV_TYPES[kv_type]
    heads = shape.n_head_kv[layer] if layer < len(shape.n_head_kv) else 0
    row = shape.key_length * heads + (shape.value_length * heads if shape.has_v_cache else 0)
    cells = depth
    if shape.swa_window and shape.swa_layers and layer < len(shape.swa_layers):
        cells = min(depth, shape.swa_window) if shape.swa_layers[layer] else depth
    return cells * row * size // block


def estimate(
    shape: ModelShape,
    machine: SpeedMachine,
    gpu_layers: int = 0,
    depth: int = 0,
    kv_type: str = "f16",
    cpu_moe_layers: int = 0,
) -> Speed | None:
    """The formula's figures (basis ``estimated``); None when layers go to a GPU whose
    speed is unknown."""
    if gpu_layers > 0 and machine.gpu is None:
        return None
    use = traffic(shape, gpu_layers if machine.gpu else 0, depth, kv_type, cpu_moe_layers)
    cpu, gpu = machine.cpu, machine.gpu
    seconds = use.cpu_bytes / (cpu.efficiency * cpu.bandwidth)
    if cpu.gen_flops_efficiency:  # the CPU's matrix-vector products: compute, not only bytes
        seconds += use.cpu_work / (cpu.gen_flops_efficiency * cpu.flops)
    prompt_s = use.cpu_flops / (cpu.prompt_efficiency * cpu.flops)
    overhead = cpu.overhead_s
    if gpu is not None and (use.gpu_bytes or use.gpu_flops):
        seconds += use.gpu_bytes / (gpu.efficiency * gpu.bandwidth)
        prompt_s += use.gpu_flops / (gpu.prompt_efficiency * gpu.flops)
        overhead = gpu.overhead_s if not use.cpu_flops else max(gpu.overhead_s, cpu.overhead_s)
    return Speed(
        gen_tok_s=1.0 / (seconds + overhead),
        prompt_tok_s=1.0 / prompt_s if prompt_s > 0 else 0.0,
        basis=ESTIMATED,
        depth=depth,
    )


def _params_of(shape: ModelShape) -> float:
    """The weights a token multiplies when the header's tensor list is not at hand. A file
    resized from a sibling whose header was read (a Hub repo's other quants) keeps the
    sibling's dimensions, and every quant of a model has the same weights: counted from them.
    From the size and the type's usual bits instead, a small model's low-bit quants (their
    embeddings kept at more bits) were given more weights than its Q8_0 and predicted slower
    (the starter ladder's Q3_K_M under its Q4_K_M)."""
    if shape.architecture == "unknown" or not (shape.n_layers and shape.n_embd):
        return 0.95 * _params_from_size(shape)  # all but the embeddings (5%, as the bytes)
    layer = 0.0
    for heads_kv in shape.n_head_kv or (shape.n_head,) * shape.n_layers:
        attention = shape.n_embd * shape.n_head * (shape.key_length + shape.value_length)
        attention += shape.n_embd * heads_kv * (shape.key_length + shape.value_length)
        layer += (attention if heads_kv else 0) + 3 * shape.n_embd * shape.n_ff
    return layer + shape.n_vocab * shape.n_embd  # the output matrix


def _params_from_size(shape: ModelShape) -> float:
    bits = quant_types.typical_bits((shape.quant or "").upper()) or 4.5
    return shape.file_size * 8 / bits


def _rounded(value: float) -> str:
    """Two significant figures at most: 0.8, 4.2, 14, 140, 1,400."""
    if value < 10:
        return f"{value:.1f}"
    if value < 100:
        return f"{value:.0f}"
    return f"{round(value, -1):,.0f}"
