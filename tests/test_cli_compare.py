"""``hearth compare`` run as a user runs it, on real ladder files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.gguf_files import write_other_model

HEARTH = str(Path(sys.executable).with_name("hearth"))
FIELDS = {
    "file",
    "quant",
    "size_bytes",
    "ppl",
    "kld",
    "tok_s",
    "same_top_pct",
    "prompt_tok_s",
    "load_s",
    "memory_bytes",
    "reference",
}


def hearth(*args, timeout=240):
    return subprocess.run(
        [HEARTH, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def test_compare_json_measures_three_quants(quant_ladder):
    files = [quant_ladder[q] for q in ("Q2_K", "Q8_0", "Q4_K_M")]
    result = hearth("compare", *files, "--tokens", "192", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar, no chatter with --json
    rows = json.loads(result.stdout)
    assert FIELDS <= set(rows[0])
    assert [r["quant"] for r in rows] == ["Q8_0", "Q4_K_M", "Q2_K"]
    q8, q4, q2 = rows
    assert q8["reference"] and q8["kld"] == 0 and not q4["reference"]  # largest file
    assert 0 < q4["kld"] < q2["kld"]
    assert q2["ppl"] > q8["ppl"]
    assert q8["size_bytes"] > q4["size_bytes"] > q2["size_bytes"]
    assert all(r["tok_s"] > 0 and r["prompt_tok_s"] > 0 for r in rows)

    # Stored: the table comes back at once, without measuring again.
    table = hearth("compare", *files, "--tokens", "192", timeout=30)
    assert table.returncode == 0, table.stderr
    assert "Q4_K_M" in table.stdout and "KL divergence against" in table.stdout
    assert "Measured 0 file(s)" in table.stdout and "3 from earlier" in table.stdout


def one_line_error(result) -> str:
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_input_exits_1_with_one_line(quant_ladder, tmp_path):
    q8 = quant_ladder["Q8_0"]
    assert "at least 2" in one_line_error(hearth("compare", q8, "--json"))
    assert "at least 2" in one_line_error(hearth("compare"))
    assert "does not exist" in one_line_error(hearth("compare", q8, tmp_path / "gone.gguf"))
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("hello")
    assert "not a GGUF" in one_line_error(hearth("compare", q8, not_gguf))

    other = write_other_model(tmp_path / "other-model.gguf")
    assert "not quants of the same model" in one_line_error(hearth("compare", q8, other))
    short = tmp_path / "short.txt"
    short.write_text("Too short to measure.")
    assert "too short" in one_line_error(
        hearth("compare", q8, quant_ladder["Q2_K"], "--text", short)
    )
