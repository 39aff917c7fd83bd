"""``hearth hw`` and ``hearth fit``, run as a user runs them: subprocesses with real output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support import this_machine

HEARTH = str(Path(sys.executable).with_name("hearth"))
MIB = 1 << 20


def hearth(*args, env=None, timeout=120):
    return subprocess.run(
        [HEARTH, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def test_help_lists_hw_and_fit():
    result = hearth("--help")
    assert result.returncode == 0
    assert "hw" in result.stdout and "fit" in result.stdout


def test_hw_json_describes_this_machine():
    result = hearth("hw", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"cpu", "ram_total_bytes", "ram_available_bytes", "gpus", "backend"} <= set(data)
    assert data["cpu"] and 0 < data["ram_available_bytes"] <= data["ram_total_bytes"]
    # what this machine has, found without Hearth (tests/support/this_machine.py)
    nvidia, _ = this_machine.nvidia()
    assert sum(gpu["vendor"] == "NVIDIA" for gpu in data["gpus"]) == nvidia
    if (others := this_machine.other_gpus()) is not None:
        assert any(gpu["vendor"] != "NVIDIA" for gpu in data["gpus"]) == others
    assert data["gpu_offload_supported"] is this_machine.gpu_offload()
    assert (data["backend"] == "CPU") is not data["gpu_offload_supported"]
    for feature in ("AVX2", "NEON"):
        if (has := this_machine.cpu_has(feature)) is not None:
            assert (feature in data["cpu_features"]) is has, feature


def test_hw_text():
    result = hearth("hw")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Processor ")
    assert any(line.startswith("llama.cpp     CPU build") for line in lines)
    nvidia, why_none = this_machine.nvidia()
    if nvidia == 0 and this_machine.other_gpus() is False and why_none:
        assert f"GPUs          none found ({why_none})" in lines
    else:  # a GPU, or a driver that answered: one line per GPU
        assert sum(line.startswith("GPU ") for line in lines) >= nvidia


def test_fit_a_local_file(quant_ladder):
    result = hearth("fit", str(quant_ladder["Q8_0"]), "--ctx", "2048", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kv_cache_bytes"] == 45 * MIB  # llama.cpp: "CPU KV buffer size = 45.00 MiB"
    assert data["weights_bytes"] < data["file_size_bytes"] < data["weights_bytes"] + 2 * MIB
    assert data["total_bytes"] == data["ram_bytes"] and data["vram_bytes"] == 0
    assert data["verdict"] == "CPU only — fits in RAM"
    assert (data["gpu_layers"], data["max_ctx"], data["n_ctx"]) == (0, 8192, 2048)
    # speed here, from the CPU probe this run made (no measured runs in a fresh home)
    assert data["speed_basis"] == "estimated" and data["speed_depth"] == 1024
    assert data["gen_tok_s"] > 1 and data["prompt_tok_s"] > data["gen_tok_s"]


def test_fit_by_library_name_with_a_quantized_kv_cache(starter_home):
    plain = json.loads(hearth("fit", "SmolLM2", "--json").stdout)
    q8 = json.loads(hearth("fit", "SmolLM2", "--kv", "q8_0", "--json").stdout)
    assert plain["n_ctx"] == 8192 and plain["quant"] == "Q4_1"  # the model's own context
    assert q8["flash_attn"] and q8["kv_cache_bytes"] == plain["kv_cache_bytes"] * 34 // 64
    assert q8["total_bytes"] < plain["total_bytes"]


def test_fit_text(quant_ladder):
    result = hearth("fit", str(quant_ladder["Q2_K"]))
    assert result.returncode == 0, result.stderr
    assert "8192 tokens of context, f16 KV cache" in result.stdout
    assert "Verdict: CPU only — fits in RAM" in result.stdout
    assert "GPU layers: 0 of 31; largest context that fits: 8192" in result.stdout
    assert re.search(
        r"Speed here: ~[\d.,]+ tok/s generating, ~[\d,]+ tok/s reading a prompt "
        r"\(estimated; generation with 1,024 tokens in the chat\)",
        result.stdout,
    )


def test_fit_a_file_on_the_hub_reads_only_its_header(loopback_hub, quant_ladder):
    path = quant_ladder["F16"]
    loopback_hub.add_repo("org/SmolLM2-GGUF", {path.name: path})
    env = {**os.environ, "HF_ENDPOINT": loopback_hub.url}

    result = hearth("fit", f"org/SmolLM2-GGUF/{path.name}", "--ctx", "4096", "--json", env=env)
    assert result.returncode == 0, result.stderr
    remote = json.loads(result.stdout)
    local = json.loads(hearth("fit", str(path), "--ctx", "4096", "--json").stdout)
    for key in ("weights_bytes", "kv_cache_bytes", "total_bytes", "verdict", "max_ctx"):
        assert remote[key] == local[key], key
    assert remote["exact"] and remote["source"].startswith(loopback_hub.url)
    downloads = loopback_hub.requests_matching(f"file={path.name}", method="GET")
    assert [r.headers["range"] for r in downloads] == ["bytes=0-2097151"]  # 2 MB of 270 MB


def test_fit_errors_are_one_line_messages(loopback_hub):
    missing = hearth("fit", "NoSuchModel")
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: No local model is called 'NoSuchModel'")
    env = {**os.environ, "HF_ENDPOINT": loopback_hub.url}
    loopback_hub.add_repo("org/Empty-GGUF", {"README.md": b"# nothing"})
    absent = hearth("fit", "org/Empty-GGUF/Model-Q4_K_M.gguf", env=env)
    assert absent.returncode == 1
    assert "org/Empty-GGUF has no file Model-Q4_K_M.gguf" in absent.stderr


def test_fit_falls_back_to_the_file_size_when_the_header_is_unreadable(loopback_hub):
    loopback_hub.add_repo("org/Odd-GGUF", {"Odd-Q4_K_M.gguf": b"\0" * 5_000_000})
    env = {**os.environ, "HF_ENDPOINT": loopback_hub.url}
    result = hearth("fit", "org/Odd-GGUF/Odd-Q4_K_M.gguf", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["exact"] is False and data["file_size_bytes"] == 5_000_000
    assert data["weights_bytes"] == 5_000_000 and data["verdict"] == "CPU only — fits in RAM"
    assert "estimating from the file size" in result.stderr


def test_fit_says_whether_the_speed_is_comfortable(quant_ladder, hearth_home):
    from app.core.config.settings import Settings

    Settings(comfortable_tok_s=0.5).save(hearth_home.settings_file)  # the studio's setting
    data = json.loads(hearth("fit", str(quant_ladder["Q2_K"]), "--json").stdout)
    assert data["comfortable"] is True
    faster = str(data["gen_tok_s"] * 10)  # the flag wins over the setting
    assert (
        json.loads(
            hearth("fit", str(quant_ladder["Q2_K"]), "--comfortable", faster, "--json").stdout
        )["comfortable"]
        is False
    )
    text = hearth("fit", str(quant_ladder["Q2_K"]), "--comfortable", faster).stdout
    assert f"Slower than your comfortable {float(faster):g} tokens a second" in text
