"""What ``hearth ls`` and ``hearth quants`` print when file names are hostile: no escape sequence
reaches the terminal, and a name that would leave the repo's folder is never listed nor
suggested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.cli.terminal import shown
from app.core.common.paths import Paths
from tests.support.hub_repos import add_gguf_family
from tests.support.hub_server import LoopbackHub

HEARTH = str(Path(sys.executable).with_name("hearth"))
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"  # title, clear screen, C1 CSI, RTL override


def hearth(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HEARTH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
    )


def test_shown_escapes_every_control_and_format_character() -> None:
    assert shown(f"a{ESCAPES}b") == "a\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202eb"
    assert shown("Qwen3-8B-Q4_K_M.gguf ü 中") == "Qwen3-8B-Q4_K_M.gguf ü 中"


def test_ls_prints_escape_sequences_in_file_names_as_text(hearth_home: Paths) -> None:
    hearth_home.models_dir.mkdir(parents=True, exist_ok=True)
    (hearth_home.models_dir / f"Evil{ESCAPES}-Q4_K_M.gguf").write_bytes(os.urandom(1000))

    result = hearth("ls")

    assert result.returncode == 0, result.stderr
    assert not any(c in result.stdout for c in "\x1b\x07\x9b\u202e")
    assert "Evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e-Q4_K_M" in result.stdout


def test_quants_hides_names_that_leave_the_repo_and_suggests_a_safe_file(
    loopback_hub: LoopbackHub,
) -> None:
    add_gguf_family(
        loopback_hub,
        "org/Hostile-GGUF",
        {
            "../Evil-Q4_K_M.gguf": os.urandom(100),
            "sub/../../Evil2-Q4_K_M.gguf": os.urandom(100),
            f"Bad{ESCAPES}-Q4_K_M.gguf": os.urandom(100),
            "Tiny-Q8_0.gguf": os.urandom(5000),
        },
    )

    listed = hearth("quants", "org/Hostile-GGUF", HF_ENDPOINT=loopback_hub.url)
    pulled = hearth("pull", "org/Hostile-GGUF", HF_ENDPOINT=loopback_hub.url)

    assert listed.returncode == 0, listed.stderr
    assert "Evil" not in listed.stdout and "Bad" not in listed.stdout
    assert not any(c in listed.stdout for c in "\x1b\x07\x9b\u202e")
    assert "Tiny-Q8_0" in listed.stdout
    assert listed.stdout.rstrip().endswith("Download one: hearth pull org/Hostile-GGUF Q8_0")
    assert pulled.returncode == 0, pulled.stderr
    assert "Tiny-Q8_0.gguf" in pulled.stdout
