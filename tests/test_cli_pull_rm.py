"""``hearth pull`` and ``hearth rm``, run as a user runs them, against the loopback Hub."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
from huggingface_hub import scan_cache_dir

from app.cli import cmd_rm
from app.core.common.errors import ModelNotFound
from app.core.common.paths import Paths, hf_hub_cache
from app.core.common.units import format_size
from app.core.config.settings import Settings
from app.core.downloads.downloader import Downloader
from app.core.library import catalog
from tests.support.hub_repos import add_gguf_family, gguf_name, mmproj_name
from tests.support.hub_server import LoopbackHub

HEARTH = str(Path(sys.executable).with_name("hearth"))
REPO = "org/Tiny-GGUF"


def hearth(hub: LoopbackHub, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HEARTH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HF_ENDPOINT": hub.url, **env},
    )


@pytest.fixture
def tiny(loopback_hub: LoopbackHub) -> dict[str, bytes]:
    files = {
        gguf_name("Tiny", q): os.urandom(size)
        for q, size in (("Q4_K_M", 300_000), ("Q8_0", 500_000))
    }
    files |= {gguf_name("Tiny", "F16", part=i, parts=2): os.urandom(400_000) for i in (1, 2)}
    add_gguf_family(loopback_hub, REPO, files)
    return files


@pytest.mark.slow
def test_pull_then_ls_shows_the_model_from_the_hf_cache(
    loopback_hub: LoopbackHub, quant_ladder: dict
) -> None:
    real = quant_ladder["Q4_K_M"]
    add_gguf_family(
        loopback_hub,
        "bartowski/SmolLM2-135M-Instruct-GGUF",
        {real.name: real, "SmolLM2-135M-Instruct-Q8_0.gguf": os.urandom(50_000)},
    )

    pulled = hearth(loopback_hub, "pull", "bartowski/SmolLM2-135M-Instruct-GGUF", "--json")

    assert pulled.returncode == 0, pulled.stderr
    result = json.loads(pulled.stdout)  # stdout holds the JSON document and nothing else
    path = Path(result["path"])
    assert (result["quant"], result["size_bytes"]) == ("Q4_K_M", real.stat().st_size)
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(real.read_bytes()).digest()
    assert loopback_hub.requests_matching(f"/resolve/{result['commit']}/{real.name}", method="HEAD")
    listed = json.loads(hearth(loopback_hub, "ls", "--json").stdout)
    (model,) = [m for m in listed if m["path"] == str(path)]
    assert (model["source"], model["quant"], model["repo_id"]) == (
        "hf-cache",
        "Q4_K_M",
        "bartowski/SmolLM2-135M-Instruct-GGUF",
    )


def test_pull_fetches_a_vision_models_projector_once_and_ls_shows_it(
    loopback_hub: LoopbackHub, starter_gguf: Path
) -> None:
    repo, model = "org/Vis-GGUF", gguf_name("Vis", "Q4_1")
    f16, q8 = os.urandom(120_000), os.urandom(70_000)
    add_gguf_family(
        loopback_hub,
        repo,
        {model: starter_gguf, mmproj_name("Vis"): f16, mmproj_name("Vis", "Q8_0"): q8},
    )

    plain = hearth(loopback_hub, "pull", repo, "Q4_1", "--no-mmproj")
    assert plain.returncode == 0, plain.stderr
    assert "Image projector" not in plain.stdout and "mmproj" not in plain.stderr
    assert not loopback_hub.requests_matching("mmproj", method="GET")

    both = hearth(loopback_hub, "pull", repo, "Q4_1")
    assert both.returncode == 0, both.stderr
    assert f"Already downloaded: {model}" in both.stderr
    assert f"Downloading {mmproj_name('Vis')} (image projector) from {repo}" in both.stderr
    ready, projector_line = both.stdout.strip().splitlines()
    assert ready.startswith("Ready: ") and ready.endswith(
        f"{model} ({format_size(starter_gguf.stat().st_size)})"
    )
    projector = Path(projector_line.removeprefix("Image projector: ").rsplit(" (", 1)[0])
    assert projector.read_bytes() == f16  # F16, what llama.cpp's own repos name the default
    assert projector.parent == Path(ready.removeprefix("Ready: ").rsplit(" (", 1)[0]).parent
    fetched = len(loopback_hub.requests_matching("/resolve/", method="GET"))

    again = hearth(loopback_hub, "pull", repo, "Q4_1", "--json")
    assert again.returncode == 0, again.stderr
    assert len(loopback_hub.requests_matching("/resolve/", method="GET")) == fetched
    assert "Already downloaded: mmproj-Vis-f16.gguf (image projector)" in again.stderr
    assert json.loads(again.stdout)["mmproj"]["path"] == str(projector)

    listed = hearth(loopback_hub, "ls")
    (line,) = [row for row in listed.stdout.splitlines() if model in row]
    assert line.endswith("hf-cache  + mmproj-Vis-f16.gguf"), line
    (entry,) = [m for m in json.loads(hearth(loopback_hub, "ls", "--json").stdout) if m["repo_id"]]
    assert entry["mmproj"] == str(projector)


def test_pull_a_quant_from_a_pasted_address(loopback_hub: LoopbackHub, tiny: dict) -> None:
    pulled = hearth(loopback_hub, "pull", f"https://huggingface.co/{REPO}", "q8_0", "--json")

    assert pulled.returncode == 0, pulled.stderr
    assert Path(json.loads(pulled.stdout)["path"]).read_bytes() == tiny[gguf_name("Tiny", "Q8_0")]


def test_pull_explains_what_is_wrong(loopback_hub: LoopbackHub, tiny: dict) -> None:
    missing = hearth(loopback_hub, "pull", REPO, "Q5_K_M")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        "Error: No Q5_K_M file in this repo. Its quants: F16, Q4_K_M, Q8_0."
    )
    escaping = hearth(loopback_hub, "pull", REPO, "../../Tiny-Q4_K_M.gguf")
    assert escaping.returncode == 1 and "refused" in escaping.stderr


def test_pull_of_a_gated_repo_uses_hf_token(loopback_hub: LoopbackHub) -> None:
    add_gguf_family(
        loopback_hub, "meta/Gated-GGUF", {"Gated-Q4_K_M.gguf": os.urandom(100_000)}, gated=True
    )
    loopback_hub.valid_tokens.add("hf_CliSecretToken789")

    refused = hearth(loopback_hub, "pull", "meta/Gated-GGUF")
    granted = hearth(loopback_hub, "pull", "meta/Gated-GGUF", HF_TOKEN="hf_CliSecretToken789")

    assert refused.returncode == 1 and "gated" in refused.stderr and "token" in refused.stderr
    assert granted.returncode == 0, granted.stderr
    assert "Ready:" in granted.stdout


def test_rm_deletes_a_pulled_split_model_and_leaves_a_clean_cache(
    loopback_hub: LoopbackHub, tiny: dict, hearth_home: Paths
) -> None:
    downloader = Downloader(endpoint=loopback_hub.url, token=False)
    downloader.download(REPO, gguf_name("Tiny", "F16", part=2, parts=2))
    downloader.download(REPO, gguf_name("Tiny", "Q4_K_M"))

    unconfirmed = hearth(loopback_hub, "rm", "Tiny-F16")
    assert unconfirmed.returncode == 1 and "-y" in unconfirmed.stderr
    removed = hearth(loopback_hub, "rm", "Tiny-F16", "-y")

    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == (
        "Deleted org/Tiny-GGUF/Tiny-F16-00001-of-00002.gguf from the "
        "Hugging Face cache: 800.0 KB freed."
    )
    names = [m.name for m in catalog.list_models(hearth_home.models_dir, hf_hub_cache())]
    assert names == ["org/Tiny-GGUF/Tiny-Q4_K_M.gguf"]
    assert scan_cache_dir(hf_hub_cache()).warnings == []
    blobs = list(hf_hub_cache().glob("models--org--Tiny-GGUF/blobs/*"))
    assert len(blobs) == 1  # only Q4_K_M's bytes are left

    assert hearth(loopback_hub, "rm", "Tiny-Q4_K_M", "-y").returncode == 0
    assert not (hf_hub_cache() / "models--org--Tiny-GGUF").exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rm_asks_before_deleting_from_hearths_folder(
    hearth_home: Paths, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    model = hearth_home.models_dir / "Mine-Q4_K_M.gguf"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"GGUF" + bytes(1000))
    args = Namespace(model="Mine", yes=False)

    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    assert cmd_rm.run(args, hearth_home) == 1 and model.exists()
    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    assert cmd_rm.run(args, hearth_home) == 0 and not model.exists()
    assert "Delete Mine-Q4_K_M (1.0 KB, 1 file(s))? [y/N]" in capsys.readouterr().out


def test_rm_only_unlinks_another_apps_model(
    hearth_home: Paths,
    starter_gguf: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    home = tmp_path / "home"
    theirs = (
        home / ".lmstudio" / "models" / "lmstudio-community" / "SmolLM2-GGUF" / starter_gguf.name
    )
    theirs.parent.mkdir(parents=True)
    os.link(starter_gguf, theirs)  # a real model in LM Studio's real folder layout
    monkeypatch.setenv("HOME", str(home))
    assert [m.source for m in catalog.list_for_user(hearth_home)] == ["lmstudio"]

    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    assert cmd_rm.run(Namespace(model="SmolLM2", yes=False), hearth_home) == 0

    out = capsys.readouterr().out
    assert (
        f"Remove lmstudio-community/SmolLM2-GGUF/{starter_gguf.name} from Hearth's list? "
        f"Its file stays at {theirs} (LM Studio). [y/N]" in out
    )
    assert out.strip().endswith(f"The file was not deleted: it is still at {theirs} (LM Studio).")
    assert theirs.read_bytes()[:4] == b"GGUF"  # the file is untouched
    assert catalog.list_for_user(hearth_home) == []  # and stays off the list, as in the app
    with pytest.raises(ModelNotFound):
        cmd_rm.run(Namespace(model="SmolLM2", yes=True), hearth_home)


def test_rm_of_a_model_in_a_users_folder_keeps_the_file(
    hearth_home: Paths, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "my-models"
    folder.mkdir()
    mine = folder / "Mine-Q8_0.gguf"
    mine.write_bytes(b"GGUF" + bytes(2000))
    Settings(model_folders=[str(folder)]).save(hearth_home.settings_file)

    assert cmd_rm.run(Namespace(model="Mine-Q8_0", yes=True), hearth_home) == 0

    assert mine.exists() and "The file was not deleted" in capsys.readouterr().out
    assert Settings.load(hearth_home.settings_file).hidden_models == [str(mine)]
    assert catalog.list_for_user(hearth_home) == []
