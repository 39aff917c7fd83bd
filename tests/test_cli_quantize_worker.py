"""The quantizer's hidden worker entry, run the way make_quant runs it: as a child process of
the ``hearth`` entry point (in a bundle ``sys.executable`` is Hearth itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.core.gguf import quant_types
from app.core.gguf.header import read_local_header
from app.core.quants import quantize_worker
from app.core.quants.quantize import FTYPES


def hearth_command() -> str:
    return str(Path(sys.executable).with_name("hearth"))


def test_hearth_quantize_worker_makes_a_q4_0(quant_ladder, tmp_path):
    out = tmp_path / "out-Q4_0.gguf"
    done = subprocess.run(
        [
            hearth_command(),
            quantize_worker.FLAG,
            str(quant_ladder["F16"]),
            str(out),
            str(FTYPES["Q4_0"]),
            "1",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert quant_types.quant_from_file_type(read_local_header(out).file_type) == "Q4_0"
    assert "Hearth" not in done.stdout  # no window, no studio: only the quantizer ran


def test_worker_reports_bad_arguments_and_failures(tmp_path):
    done = subprocess.run(
        [hearth_command(), quantize_worker.FLAG, "only-one"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "usage: hearth --quantize-worker" in done.stderr
    done = subprocess.run(
        [
            hearth_command(),
            quantize_worker.FLAG,
            str(tmp_path / "missing.gguf"),
            str(tmp_path / "out.gguf"),
            str(FTYPES["Q4_0"]),
            "1",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3 and "llama_model_quantize failed" in done.stderr
    assert not (tmp_path / "out.gguf").exists()


def test_the_child_command_is_hearth_itself_in_a_bundle(monkeypatch):
    assert quantize_worker.command("a", "b") == [
        sys.executable,
        "-m",
        "app",
        quantize_worker.FLAG,
        "a",
        "b",
    ]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert quantize_worker.command("a", "b") == [sys.executable, quantize_worker.FLAG, "a", "b"]
