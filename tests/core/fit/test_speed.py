"""The speed estimate: the bytes a token reads, the devices' numbers (NVML recorded from real
cards, the table), published llama.cpp results, and calibration by the user's runs.

Published rows (resources/data/SOURCES.md, "Speed estimate"): llama.cpp PR #4766 (RTX 4090,
llama 7B F16 and Q8_0, llama-bench tg128/pp512) and normiebench #40 and #3 (llama.cpp Metal,
Llama 3.1 8B Q4_K_M on an M1 Max and an M4). Each is estimated from its file size, as Hearth
does for a Hub file whose header is not read, within a band: a roofline with two fitted
constants is not exact (llmfit's audit: estimate/measured 0.24-1.47 over 214 runs).
"""

from __future__ import annotations

import sys
import time

import pytest

from app.core.fit import devices, estimate, speed, speed_log
from app.core.fit.shape import ModelShape, shape_from_size
from app.core.fit.speed_here import SpeedHere
from app.core.gguf.header import TensorInfo
from app.core.hardware import cpu_speed, probe
from app.core.hardware import nvml as hw_nvml
from app.core.hardware.probe import Gpu
from tests.core.hardware.test_probe import (
    CUDA_INFO,
    METAL_INFO,
    RTX3090,
    cpu_backend,
    m1_max_recording,
)
from tests.support.recorded_hw import FakeNvml, mac_runner

GIB = 1 << 30
F32, F16 = 0, 1
PROBE = cpu_speed.CpuSpeed("test machine", 37e9, 37e9, 92e9, 2)


def tensor(name: str, *shape: int, ggml_type: int = F16) -> TensorInfo:
    return TensorInfo(name, ggml_type, tuple(shape), 0)


def toy(tensors, n_layers=2, **changes) -> ModelShape:
    values = dict(
        name="toy.gguf",
        architecture="llama",
        file_size=sum(t.nbytes for t in tensors),
        n_layers=n_layers,
        n_ctx_train=4096,
        n_embd=64,
        n_ff=128,
        n_head=4,
        n_head_kv=(2,) * n_layers,
        key_length=16,
        value_length=16,
        n_vocab=1000,
        tensors=tuple(tensors),
    )
    values.update(changes)
    return ModelShape(**values)


LAYERS = [tensor(f"blk.{i}.attn_q.weight", 64, 64) for i in range(2)]
EMBD = tensor("token_embd.weight", 64, 1000)
OUTPUT = tensor("output.weight", 64, 1000)


def test_a_token_reads_the_layers_and_output_but_one_row_of_the_embeddings():
    untied = toy([EMBD, *LAYERS, OUTPUT])
    assert speed.traffic(untied).cpu_bytes == 2 * 64 * 64 * 2 + 64 * 1000 * 2
    tied = toy([EMBD, *LAYERS])  # no output.weight: the embeddings are the output matrix
    assert speed.traffic(tied).cpu_bytes == 2 * 64 * 64 * 2 + 64 * 1000 * 2
    assert speed.traffic(untied).cpu_flops == 2 * (2 * 64 * 64 + 64 * 1000)


def test_only_the_used_share_of_the_experts_is_read():
    experts = [tensor(f"blk.{i}.ffn_up_exps.weight", 64, 128, 8) for i in range(2)]
    shape = toy([*LAYERS, *experts, OUTPUT], expert_count=8, expert_used_count=2)
    dense = 2 * 64 * 64 * 2 + 64 * 1000 * 2
    assert speed.traffic(shape).cpu_bytes == dense + 2 * (64 * 128 * 8 * 2) * 2 / 8


Q4_0, Q4_1 = 2, 3


def test_a_cpu_token_costs_what_its_weight_type_s_kernel_does_not_only_its_bytes():
    """Q4_1 reads 11% more bytes than Q4_0; on the CPU its kernel does about twice the work per
    weight (measured: the zoo's medium llama in each type alone, 12.6 ms a token against 8.5),
    so it is predicted well over 11% slower there; on a GPU only the bytes count."""
    files = {
        kind: toy([tensor(f"blk.{i}.ffn_up.weight", 4096, 4096, ggml_type=kind) for i in range(2)])
        for kind in (Q4_0, Q4_1)
    }
    use = {kind: speed.traffic(shape) for kind, shape in files.items()}
    more_bytes = use[Q4_1].cpu_bytes / use[Q4_0].cpu_bytes
    assert more_bytes == pytest.approx(20 / 18)
    cpu = speed.SpeedMachine(devices.cpu_device(PROBE, 1))
    slower = speed.estimate(files[Q4_0], cpu).gen_tok_s / speed.estimate(files[Q4_1], cpu).gen_tok_s
    assert slower > 1.3 * more_bytes
    gpu = devices.gpu_device(Gpu("NVIDIA GeForce RTX 3060", "NVIDIA", 12 * GIB), "CUDA")
    on_gpu = speed.SpeedMachine(devices.cpu_device(PROBE, 1), gpu)
    figures = [speed.estimate(files[k], on_gpu, 3).gen_tok_s for k in (Q4_0, Q4_1)]
    assert 1.0 < figures[0] / figures[1] < more_bytes


def test_each_matrix_product_adds_its_start_up_per_head_and_once_per_expert_tensor():
    flat = toy([tensor("blk.0.attn_k_b.weight", 16, 256), OUTPUT], n_layers=1)
    per_head = toy([tensor("blk.0.attn_k_b.weight", 16, 32, 8), OUTPUT], n_layers=1)
    extra = speed.traffic(per_head).cpu_work - speed.traffic(flat).cpu_work
    assert extra == pytest.approx(7 * devices.CPU_MATRIX_COST)
    experts = toy(
        [tensor("blk.0.ffn_up_exps.weight", 16, 32, 8), OUTPUT],
        n_layers=1,
        expert_count=8,
        expert_used_count=2,
    )
    dense = toy([tensor("blk.0.ffn_up.weight", 16, 64), OUTPUT], n_layers=1)  # 2 experts' worth
    # the used experts run in one mul_mat_id, as the dense tensor's one product
    assert speed.traffic(experts).cpu_work == pytest.approx(speed.traffic(dense).cpu_work)


def test_a_norm_or_bias_starts_as_one_vector_operation_cheaper_than_a_product():
    """A 1-D tensor (a norm, gpt-oss's attention sinks) or a bias (an expert tensor's too) runs
    as a plain vector operation; costed as a matrix product's start, the zoo's gpt-oss small
    (more biases and norms than matrices) was predicted 0.76-0.84 of its measured speed."""
    bare = toy([tensor("blk.0.ffn_up.weight", 16, 64), OUTPUT], n_layers=1)
    vectors = [
        tensor("blk.0.ffn_norm.weight", 16, ggml_type=F32),
        tensor("blk.0.ffn_up.bias", 64, ggml_type=F32),
        tensor("blk.0.ffn_up_exps.bias", 64, 8, ggml_type=F32),
    ]
    with_vectors = toy([*bare.tensors, *vectors], n_layers=1, expert_count=8, expert_used_count=2)
    weights = (16 + 64 + 64 * 8 * 2 / 8) * devices.cpu_weight_cost(F32)
    extra = speed.traffic(with_vectors).cpu_work - speed.traffic(bare).cpu_work
    assert extra == pytest.approx(weights + 3 * devices.CPU_VECTOR_COST)
    assert 0 < devices.CPU_VECTOR_COST < devices.CPU_MATRIX_COST


def test_a_recurrent_layer_s_scan_and_convolution_tensors_start_as_vector_operations():
    """``ssm_a`` and ``ssm_d`` (a dimension of 1) and the convolution's kernel take part in a
    scan, an element-wise product and a convolution, not in matrix products."""
    bare = toy([tensor("blk.0.ssm_in.weight", 16, 64), OUTPUT], n_layers=1)
    recurrent = [
        tensor("blk.0.ssm_a", 1, 4, ggml_type=F32),
        tensor("blk.0.ssm_d", 1, 4, ggml_type=F32),
        tensor("blk.0.ssm_conv1d.weight", 4, 48, ggml_type=F32),
    ]
    with_recurrent = toy([*bare.tensors, *recurrent], n_layers=1)
    weights = (4 + 4 + 4 * 48) * devices.cpu_weight_cost(F32)
    extra = speed.traffic(with_recurrent).cpu_work - speed.traffic(bare).cpu_work
    assert extra == pytest.approx(weights + 3 * devices.CPU_VECTOR_COST)


def test_a_file_known_by_size_only_is_costed_by_its_quant_s_main_type():
    assert devices.cpu_quant_cost("Q4_K_M") == devices.cpu_weight_cost(12)
    assert devices.cpu_quant_cost("Q5_0") == devices.cpu_weight_cost(6)
    assert devices.cpu_quant_cost("IQ2_XXS") == devices.CPU_WEIGHT_COST_OTHER
    assert devices.cpu_quant_cost(None) == devices.CPU_WEIGHT_COST_OTHER
    q5 = shape_from_size(500_000_000, "model-Q5_0.gguf")
    q4 = shape_from_size(500_000_000, "model-Q4_0.gguf")
    assert speed.traffic(q5).cpu_work / speed.traffic(q5).cpu_flops > (
        speed.traffic(q4).cpu_work / speed.traffic(q4).cpu_flops
    )


def test_the_kv_cache_read_grows_with_depth_and_stops_at_the_window():
    shape = toy([*LAYERS, OUTPUT])
    row = (16 * 2 + 16 * 2) * 2  # K and V, 2 heads of 16, f16
    base = speed.traffic(shape, depth=0).cpu_bytes
    assert speed.traffic(shape, depth=1000).cpu_bytes - base == 2 * 1000 * row
    sliding = toy([*LAYERS, OUTPUT], swa_window=256, swa_layers=(True, False))
    assert speed.traffic(sliding, depth=1000).cpu_bytes - base == (256 + 1000) * row


def test_offloaded_layers_move_their_bytes_to_the_gpu():
    shape = toy([EMBD, *LAYERS, OUTPUT])
    layer = 64 * 64 * 2
    one = speed.traffic(shape, gpu_layers=1)  # the last layer first, as llama.cpp offloads
    assert (one.gpu_bytes, one.cpu_bytes) == (layer, layer + 64 * 1000 * 2)
    every = speed.traffic(shape, gpu_layers=shape.offload_layers)
    assert every.cpu_bytes == 0 and every.gpu_bytes == 2 * layer + 64 * 1000 * 2


def test_partial_offload_is_between_cpu_only_and_all_on_the_gpu():
    shape = shape_from_size(int(4.6 * GIB), "model-Q4_K_M.gguf")
    gpu = devices.gpu_device(Gpu("NVIDIA GeForce RTX 3060", "NVIDIA", 12 * GIB), "CUDA")
    machine = speed.SpeedMachine(devices.cpu_device(PROBE, 7), gpu)
    figures = [speed.estimate(shape, machine, n).gen_tok_s for n in (0, 16, 33)]
    assert figures[0] < figures[1] < figures[2]
    without_gpu = speed.SpeedMachine(devices.cpu_device(PROBE, 7))
    assert speed.estimate(shape, without_gpu, 16) is None  # no GPU speed: no figure


def test_nvml_gives_bandwidth_from_the_bus_and_memory_clock_of_a_recorded_card():
    # nvidia-smi does not print the bus width: 384 bits is the RTX 3090's published figure.
    gpus, _ = hw_nvml.probe(FakeNvml.load("nvidia-smi_q_x_rtx3090.xml", bus_width=384))
    assert gpus[0].memory_bandwidth == pytest.approx(936e9, rel=0.001)  # 9751 MHz recorded
    a5000, _ = hw_nvml.probe(FakeNvml.load("nvidia-smi_q_x_2x_rtx_a5000.xml", bus_width=384))
    assert [g.memory_bandwidth for g in a5000] == [pytest.approx(768e9, rel=0.001)] * 2
    assert devices.gpu_device(a5000[0], "CUDA").source == "nvml"


def test_without_a_bus_width_the_table_answers_for_a_known_card():
    gpus, _ = hw_nvml.probe(FakeNvml.load("nvidia-smi_q_x_rtx3090.xml"))
    assert gpus[0].memory_bandwidth is None
    device = devices.gpu_device(gpus[0], "CUDA")
    assert (device.source, device.bandwidth) == ("table", 936e9)
    assert devices.gpu_spec("Apple M1 Max")[0] == 400e9  # not read as "M1"
    assert devices.gpu_spec("Apple M1")[0] == 68.25e9
    assert devices.gpu_device(Gpu("Mystery GPU", "Intel", GIB), "Vulkan") is None


# (GPU name, backend, file size in GiB, quant, published tg128, published pp512, source)
PUBLISHED = [
    ("NVIDIA GeForce RTX 4090", "CUDA", 12.55, "F16", 61.03, 11048.22, "llama.cpp PR #4766"),
    ("NVIDIA GeForce RTX 4090", "CUDA", 6.67, "Q8_0", 98.13, 7664.00, "llama.cpp PR #4766"),
    ("Apple M1 Max", "Metal", 4.58, "Q4_K_M", 46.2, 499.58, "normiebench #40"),
    ("Apple M4", "Metal", 4.58, "Q4_K_M", 20.87, 224.81, "normiebench #3"),
]


@pytest.mark.parametrize("name,backend,gib,quant,tg,pp,source", PUBLISHED)
def test_published_llama_cpp_results_are_within_the_band(name, backend, gib, quant, tg, pp, source):
    shape = shape_from_size(int(gib * GIB), f"model-{quant}.gguf")
    gpu = devices.gpu_device(Gpu(name, "x", 24 * GIB), backend)
    machine = speed.SpeedMachine(devices.cpu_device(PROBE, 8), gpu)
    figure = speed.estimate(shape, machine, shape.offload_layers)
    assert 0.75 <= figure.gen_tok_s / tg <= 1.33, (source, figure.gen_tok_s, tg)
    assert 0.7 <= figure.prompt_tok_s / pp <= 1.43, (source, figure.prompt_tok_s, pp)


def test_the_short_figure_is_rounded_and_says_when_it_is_measured():
    assert speed.Speed(14.36, 100, speed.ESTIMATED, 0).short == "~14 tok/s"
    assert speed.Speed(4.24, 100, speed.CALIBRATED, 0).short == "~4.2 tok/s"
    assert speed.Speed(137.0, 100, speed.MEASURED, 0).short == "140 tok/s"


# -- calibration ---------------------------------------------------------------------------------


def run(name: str, size: int, tok_s: float, depth: int = 100) -> speed_log.Run:
    return speed_log.Run("me", f"/models/{name}", name, size, None, depth, 0, 1, tok_s, 64)


def here(runs, shapes: dict[str, ModelShape]) -> SpeedHere:
    return SpeedHere(
        lambda threads: speed.SpeedMachine(devices.cpu_device(PROBE, threads)),
        1,
        runs,
        shape_of=lambda path: shapes.get(path.rsplit("/", 1)[-1]),
    )


def test_runs_of_other_files_calibrate_and_the_files_own_runs_are_measured():
    small = shape_from_size(100_000_000, "small-Q4_K_M.gguf")
    big = shape_from_size(300_000_000, "big-Q8_0.gguf")
    plain = here([], {})
    estimated = plain.speed(big)
    assert estimated.basis == speed.ESTIMATED
    predicted_small = plain.speed(small, depth=100).gen_tok_s
    # the small file ran at half the estimate here: the big one is expected at half too
    calibrated = here([run(small.name, small.file_size, predicted_small / 2)], {small.name: small})
    figure = calibrated.speed(big)
    assert figure.basis == speed.CALIBRATED
    assert figure.gen_tok_s == pytest.approx(estimated.gen_tok_s / 2)
    # its own run wins, carried from the depth it ran at to the depth asked
    measured = calibrated.speed(small, depth=100)
    assert (measured.basis, measured.gen_tok_s) == (
        speed.MEASURED,
        pytest.approx(predicted_small / 2),
    )


def test_a_run_of_a_file_no_longer_here_does_not_calibrate():
    big = shape_from_size(300_000_000, "big-Q8_0.gguf")
    assert here([run("gone.gguf", 5, 1.0)], {}).speed(big).basis == speed.ESTIMATED


def test_one_slow_answer_among_several_does_not_move_the_figures():
    small = shape_from_size(100_000_000, "small-Q4_K_M.gguf")
    plain = here([], {}).speed(small, depth=100).gen_tok_s
    runs = [run(small.name, 1, plain)] * 4 + [run(small.name, 1, plain / 50)]
    assert here(runs, {small.name: small}).factor == pytest.approx(1.0)


def test_the_speed_log_keeps_runs_and_sets_a_damaged_file_aside(tmp_path):
    first = run("a.gguf", 10, 12.5)
    speed_log.record(tmp_path, first)
    speed_log.record(tmp_path, run("b.gguf", 20, 30.0))
    assert [r.name for r in speed_log.runs(tmp_path)] == ["a.gguf", "b.gguf"]
    assert speed_log.runs(tmp_path, "another machine") == []
    (tmp_path / speed_log.FILE_NAME).write_text('{"runs": [1, 2')
    assert speed_log.runs(tmp_path) == []
    assert list(tmp_path.glob(f"{speed_log.FILE_NAME}.damaged-*"))


@pytest.mark.skipif(sys.platform == "win32", reason="the wall clock there (ticks of ~16 ms)")
def test_the_probe_s_clock_does_not_count_time_the_thread_did_not_run():
    """On a shared machine a job timed on the wall clock is charged for the time other programs
    held the core; the probe and the speed benchmark time their work on the thread's own clock."""
    wall, own = time.perf_counter(), cpu_speed.cpu_clock()
    time.sleep(0.05)
    slept_wall, slept_own = time.perf_counter() - wall, cpu_speed.cpu_clock() - own
    assert slept_own < slept_wall / 2


def test_the_cpu_probe_is_measured_once_and_kept_for_this_machine(tmp_path):
    first = cpu_speed.load_or_measure(tmp_path, "machine A", 2)
    assert first.bandwidth_one > 1e9 and first.flops_core > 1e9
    assert cpu_speed.load_or_measure(tmp_path, "machine A", 2) == first  # stored, not re-run
    again = cpu_speed.load_or_measure(tmp_path, "machine B", 2)  # another machine: measured
    assert again.identity == "machine B" and again.measured_at >= first.measured_at


# -- machines recorded from real hardware ------------------------------------------------------


def test_the_recorded_rtx_3090_runs_an_8b_q4_from_its_cuda_build(tmp_path):
    """The RTX 3090 of the nvidia-smi recording: a CUDA build puts the layers there, at its
    936 GB/s; a CPU build cannot, and the same file runs at the CPU's speed."""
    nvml = FakeNvml.load(RTX3090, bus_width=384)

    def report(backend):
        return probe.probe(
            tmp_path,
            nvml=nvml,
            run=lambda a: "",
            system="Linux",
            sysfs_root=tmp_path,
            backend=backend,
        )

    cuda_report = report(cpu_backend(system_info=CUDA_INFO, gpu_offload=True))
    shape = shape_from_size(int(4.58 * GIB), "Llama-3.1-8B-Q4_K_M.gguf")
    fits = estimate.plan(shape, estimate.Machine.from_report(cuda_report), 8192)
    on_gpu = speed.SpeedMachine.from_report(cuda_report, PROBE, 7)
    assert on_gpu.gpu.bandwidth == pytest.approx(936e9, rel=0.001) and on_gpu.gpu.source == "nvml"
    fast = speed.estimate(shape, on_gpu, fits.gpu_layers)
    assert fits.verdict == estimate.VERDICT_FULL and 80 < fast.gen_tok_s < 200
    on_cpu = speed.SpeedMachine.from_report(report(cpu_backend()), PROBE, 7)
    assert on_cpu.gpu is None
    assert speed.estimate(shape, on_cpu).gen_tok_s < fast.gen_tok_s / 10


def test_the_recorded_m1_max_uses_its_table_bandwidth_with_metal(tmp_path):
    sysctl, metal = m1_max_recording()
    report = probe.probe(
        tmp_path,
        nvml=FakeNvml.without_driver(),
        run=mac_runner(sysctl),
        system="Darwin",
        backend=cpu_backend(system_info=METAL_INFO, gpu_offload=True, devices=(metal,)),
    )
    machine = speed.SpeedMachine.from_report(report, PROBE, 7)
    assert (machine.gpu.bandwidth, machine.gpu.source) == (400e9, "table")
    assert machine.gpu.efficiency == devices.EFFICIENCY["Metal"][0]
