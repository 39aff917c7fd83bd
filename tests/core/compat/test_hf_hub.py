"""Pins the private helpers of huggingface_hub that Hearth uses (through
``app.core.compat.hf_hub`` only), on the installed version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import constants, get_token, scan_cache_dir

from app.core.compat.hf_hub import blob_lock, repo_folder_name, store_token


def test_a_stored_token_is_the_one_every_hugging_face_tool_uses() -> None:
    store_token("hf_first", "first")
    store_token("hf_second", "second")
    assert get_token() == "hf_second"
    assert Path(constants.HF_TOKEN_PATH).read_text() == "hf_second"
    stored = Path(constants.HF_STORED_TOKENS_PATH).read_text()
    assert "[first]" in stored and "hf_first" in stored and "[second]" in stored


def test_the_repo_folder_is_where_the_cache_scan_finds_the_repo(tmp_path: Path) -> None:
    folder = tmp_path / repo_folder_name("owner/some-model")
    assert folder.name == "models--owner--some-model"
    (folder / "snapshots" / "abc123").mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("abc123")
    (folder / "blobs").mkdir()
    repos = scan_cache_dir(tmp_path).repos
    assert [(r.repo_id, r.repo_type) for r in repos] == [("owner/some-model", "model")]


HOLD = """
import sys
from app.core.compat.hf_hub import blob_lock
with blob_lock(sys.argv[1], timeout=5):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_blob_lock_another_process_holds_times_out(tmp_path: Path) -> None:
    lock_path = tmp_path / "blob.lock"
    root = Path(__file__).resolve().parents[3]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock_path)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(TimeoutError), blob_lock(lock_path, timeout=0.2):
            pass
    finally:
        holder.communicate("\n", timeout=30)
    with blob_lock(lock_path, timeout=0.2):  # free again once the holder let go
        assert lock_path.exists()
