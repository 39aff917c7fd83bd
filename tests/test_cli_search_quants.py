"""``hearth search`` and ``hearth quants``, run as a user runs them, against the loopback Hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.fit import estimate
from tests.support.hub_repos import add_gguf_family, gguf_name, mmproj_name, split_bytes
from tests.support.hub_server import LoopbackHub

HEARTH = str(Path(sys.executable).with_name("hearth"))


def hearth(hub: LoopbackHub, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HEARTH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HF_ENDPOINT": hub.url},
    )


@pytest.fixture
def repos(loopback_hub: LoopbackHub, quant_ladder) -> LoopbackHub:
    q8 = os.urandom(30_000)
    add_gguf_family(
        loopback_hub,
        "bartowski/SmolLM2-135M-Instruct-GGUF",
        {
            quant_ladder["Q2_K"].name: quant_ladder["Q2_K"],
            gguf_name("SmolLM2-135M-Instruct", "Q4_K_M"): os.urandom(20_000),
            **dict(
                zip(
                    [gguf_name("SmolLM2-135M-Instruct", "Q8_0", part=i, parts=2) for i in (1, 2)],
                    split_bytes(q8, 2),
                    strict=True,
                )
            ),
            mmproj_name("SmolLM2"): os.urandom(500),
        },
        downloads=300,
        likes=4,
        gguf={"total": 134_515_008, "architecture": "llama", "context_length": 8192},
    )
    add_gguf_family(
        loopback_hub,
        "unsloth/SmolLM2-1.7B-GGUF",
        {gguf_name("S", "Q4_K_M"): b"x"},
        downloads=900,
        likes=1,
    )
    add_gguf_family(
        loopback_hub, "someone/Other-GGUF", {gguf_name("O", "Q4_K_M"): b"x"}, downloads=5, likes=99
    )
    return loopback_hub


def test_search_json(repos) -> None:
    result = hearth(repos, "search", "smollm2", "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert [m["id"] for m in found] == [
        "unsloth/SmolLM2-1.7B-GGUF",
        "bartowski/SmolLM2-135M-Instruct-GGUF",
    ]
    smol = found[1]
    assert {k: smol[k] for k in ("author", "downloads", "likes")} == {
        "author": "bartowski",
        "downloads": 300,
        "likes": 4,
    }
    assert smol["last_modified"].startswith("20") and smol["quants"] == ["Q2_K", "Q4_K_M", "Q8_0"]
    assert repos.requests_matching("/api/models?")  # HF_ENDPOINT was honoured


def test_search_sort_limit_and_text(repos) -> None:
    by_likes = json.loads(
        hearth(repos, "search", "--sort", "likes", "--limit", "2", "--json").stdout
    )
    assert [m["id"] for m in by_likes] == [
        "someone/Other-GGUF",
        "bartowski/SmolLM2-135M-Instruct-GGUF",
    ]
    text = hearth(repos, "search", "Other")
    assert text.returncode == 0 and "someone/Other-GGUF" in text.stdout
    assert "hearth quants someone/Other-GGUF" in text.stdout


def test_search_failure_is_one_line(repos) -> None:
    repos.fail("/api/models", 503, count=None)
    result = hearth(repos, "search", "smol")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().startswith("Error: The Hugging Face Hub is having trouble")


def test_quants_json(repos, quant_ladder) -> None:
    result = hearth(
        repos, "quants", "https://huggingface.co/bartowski/SmolLM2-135M-Instruct-GGUF", "--json"
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["quant"], r["kind"], r["size_bytes"], len(r["files"])) for r in rows] == [
        ("Q4_K_M", "model", 20_000, 1),
        ("Q8_0", "model", 30_000, 2),
        ("Q2_K", "model", quant_ladder["Q2_K"].stat().st_size, 1),
        ("F16", "mmproj", 500, 1),
    ]
    verdicts = {estimate.VERDICT_FULL, estimate.VERDICT_CPU, estimate.VERDICT_TOO_LARGE}
    assert all(r["fit"] in verdicts or r["fit"].startswith("Partial: ") for r in rows[:3])
    assert rows[3]["fit"] is None
    for row in rows[:3]:  # a speed here for every model file that fits, none for the projector
        fits = row["fit"] != estimate.VERDICT_TOO_LARGE
        assert (row["speed_basis"] == "estimated") == fits and (row["gen_tok_s"] or 0) >= 0
    assert rows[0]["gen_tok_s"] > rows[2]["gen_tok_s"] > 0  # a 20 kB file reads less than 88 MB
    assert rows[3]["gen_tok_s"] is None
    assert rows[1]["files"] == [
        "SmolLM2-135M-Instruct-Q8_0-00001-of-00002.gguf",
        "SmolLM2-135M-Instruct-Q8_0-00002-of-00002.gguf",
    ]


def test_quants_text_and_errors(repos) -> None:
    text = hearth(repos, "quants", "bartowski/SmolLM2-135M-Instruct-GGUF")
    assert text.returncode == 0, text.stderr
    assert "135M parameters, llama, 8,192 tokens of context" in text.stdout
    assert "SmolLM2-135M-Instruct-Q8_0.gguf (2 parts)" in text.stdout
    assert "SPEED HERE" in text.stdout and " tok/s  " in text.stdout
    assert "Speed here: generation tokens a second with 1,024 tokens in the chat" in text.stdout
    assert "Vision projector: mmproj-SmolLM2-f16.gguf" in text.stdout
    missing = hearth(repos, "quants", "nobody/nothing")
    assert missing.returncode == 1 and "no model called 'nobody/nothing'" in missing.stderr


def test_quants_recommends_one_by_the_comfortable_speed(repos, hearth_home) -> None:
    from app.core.config.settings import Settings

    Settings(comfortable_tok_s=0.5).save(hearth_home.settings_file)  # any quant is comfortable
    ref = "bartowski/SmolLM2-135M-Instruct-GGUF"
    rows = json.loads(hearth(repos, "quants", ref, "--json").stdout)
    models = [r for r in rows if r["kind"] == "model"]
    fits = [r for r in models if r["gen_tok_s"]]
    assert [r["recommended"] for r in rows if r["kind"] != "model"] == [False]
    best = [r["quant"] for r in models if r["recommended"]]
    assert best == ["Q8_0"]  # the best quality; every file here fits any computer
    fastest = max(fits, key=lambda r: r["gen_tok_s"])
    fast = hearth(repos, "quants", ref, "--comfortable", str(fastest["gen_tok_s"] * 10))
    assert fast.returncode == 0, fast.stderr
    assert f"Recommended: {fastest['quant']}: " in fast.stdout
    assert "tokens a second here: this is the fastest" in fast.stdout
