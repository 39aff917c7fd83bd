"""The library scan on a hostile disk, and deleting exactly what the user chose.

Real files only: sub-folders deeper than the system's path limit (``os.scandir`` fails there
with ENAMETOOLONG, as it fails with ENOENT when another program removes a folder mid-scan),
FIFOs, empty files, links into /proc, and a Hugging Face cache filled by real downloads from
the loopback Hub.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.core.common.errors import InvalidModelFile
from app.core.common.paths import hf_hub_cache
from app.core.common.units import format_size
from app.core.downloads.downloader import Downloader
from app.core.gguf import check
from app.core.library import catalog
from app.core.library.catalog import HeaderCache, list_models
from tests.support.hub_repos import add_gguf_family, gguf_name


def listing(hearth_home, folder: Path | None = None) -> list[catalog.LocalModel]:
    return list_models(
        hearth_home.models_dir,
        hf_hub_cache(),
        [folder] if folder else [],
        other_apps=False,
        header_cache=HeaderCache(hearth_home.cache_dir / "h.json"),
    )


def too_deep(folder: Path) -> None:
    """Sub-folders nested past PATH_MAX (4096): scanning them fails with ENAMETOOLONG."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for level in range(20):
            name = chr(ord("a") + level) * 250
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def test_one_unreadable_sub_folder_does_not_drop_the_folder(hearth_home, tmp_path):
    folder = tmp_path / "mine"
    (folder / "z").mkdir(parents=True)
    (folder / "z" / "Kept-Q4_K_M.gguf").write_bytes(os.urandom(1000))
    too_deep(folder)

    assert [m.name for m in listing(hearth_home, folder)] == ["Kept-Q4_K_M"]


def test_special_and_empty_files_are_never_listed_nor_opened(hearth_home, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "Real-Q4_K_M.gguf").write_bytes(os.urandom(1000))
    (folder / "Empty-Q4_K_M.gguf").write_bytes(b"")
    os.mkfifo(folder / "Pipe-Q4_K_M.gguf")
    (folder / "Mem-Q4_K_M.gguf").symlink_to("/proc/self/mem")

    assert [m.name for m in listing(hearth_home, folder)] == ["Real-Q4_K_M"]


def test_a_fifo_as_the_second_shard_is_refused_before_llama_cpp_opens_it(
    hearth_home, tmp_path, starter_gguf
):
    folder = tmp_path / "mine"
    folder.mkdir()
    first = folder / "Smol-Q4_1-00001-of-00002.gguf"
    os.link(starter_gguf, first)
    os.mkfifo(folder / "Smol-Q4_1-00002-of-00002.gguf")

    (model,) = listing(hearth_home, folder)
    assert model.all_files == (first,) and model.size_bytes == first.stat().st_size
    with pytest.raises(
        InvalidModelFile, match="part Smol-Q4_1-00002-of-00002.gguf is empty or not a regular file"
    ):
        check.check_file(first)


def test_header_cache_entries_of_the_wrong_type_are_read_again(hearth_home, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    files = [folder / f"M{i}-Q4_K_M.gguf" for i in range(4)]
    for path in files:
        path.write_bytes(os.urandom(1000))
    cache = hearth_home.cache_dir / "h.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(
        json.dumps(
            {
                "version": HeaderCache.VERSION,
                "checked_by": catalog.checker(),
                "files": {
                    str(files[0]): [1],
                    str(files[1]): {"size": "big"},
                    str(files[2]): "x",
                    str(files[3]): {
                        "size": 1000,
                        "mtime_ns": files[3].stat().st_mtime_ns,
                        "architecture": ["llama"],
                        "parameters": {"a": 1},
                    },
                },
            }
        )
    )

    models = listing(hearth_home, folder)

    assert [m.name for m in models] == [f"M{i}-Q4_K_M" for i in range(4)]
    assert all(m.architecture is None and m.parameters is None for m in models)
    entries = json.loads(cache.read_text())["files"]
    assert all("error" in entries[str(path)] for path in files)  # read again, not trusted
    assert len(list(cache.parent.glob("h.json.damaged-*"))) == 1


def test_a_refusal_cached_by_another_check_is_checked_again(hearth_home, tmp_path, starter_gguf):
    """A file refused by an older Hearth or llama.cpp (say, before its architecture was known)
    is checked again after an update, not refused until the file itself changes."""
    folder = tmp_path / "mine"
    folder.mkdir()
    model = folder / "Good-Q4_1.gguf"
    model.write_bytes(starter_gguf.read_bytes())
    listing(hearth_home, folder)
    cache = hearth_home.cache_dir / "h.json"
    stored = json.loads(cache.read_text())
    stored["files"][str(model)]["problem"] = "llama.cpp 0.0.1 does not know this architecture."
    cache.write_text(json.dumps(stored))
    assert [m.problem for m in listing(hearth_home, folder)] == [
        stored["files"][str(model)]["problem"]
    ]

    stored["checked_by"] = "hearth 0.0.1, llama-cpp-python 0.0.1"
    cache.write_text(json.dumps(stored))
    assert [m.problem for m in listing(hearth_home, folder)] == [None]
    assert json.loads(cache.read_text())["checked_by"] == catalog.checker()


# -- deleting ---------------------------------------------------------------------------------


def test_delete_leaves_another_repo_with_the_same_commit_hash_alone(loopback_hub, hearth_home):
    """Two repos can hold a revision with the same commit hash (a mirror, a copied cache):
    deleting a model of one frees that model's bytes, and the other keeps its file."""
    a_bytes, b_bytes = os.urandom(300_000), os.urandom(500_000)
    add_gguf_family(loopback_hub, "org/A-GGUF", {gguf_name("A", "Q4_K_M"): a_bytes})
    add_gguf_family(loopback_hub, "org/B-GGUF", {gguf_name("B", "Q4_K_M"): b_bytes})
    downloader = Downloader(endpoint=loopback_hub.url, token=False)
    a_file = downloader.download("org/A-GGUF", gguf_name("A", "Q4_K_M")).path
    b_result = downloader.download("org/B-GGUF", gguf_name("B", "Q4_K_M"))
    b_repo = hf_hub_cache() / "models--org--B-GGUF"
    commit = a_file.parent.name
    (b_repo / "snapshots" / b_result.commit).rename(b_repo / "snapshots" / commit)
    (b_repo / "refs" / "main").write_text(commit)
    a_model, b_model = listing(hearth_home)
    assert (a_model.name, b_model.name) == ("org/A-GGUF/A-Q4_K_M.gguf", "org/B-GGUF/B-Q4_K_M.gguf")

    outcome = catalog.delete_model(a_model)

    assert outcome.freed_bytes == len(a_bytes)
    assert outcome.message == (
        f"Deleted org/A-GGUF/A-Q4_K_M.gguf from the Hugging Face cache: "
        f"{format_size(len(a_bytes))} freed."
    )
    assert b_model.path.read_bytes() == b_bytes
    assert [m.name for m in listing(hearth_home)] == [b_model.name]
    assert not (hf_hub_cache() / "models--org--A-GGUF").exists()


def test_delete_keeps_a_blob_another_snapshot_of_the_repo_uses(loopback_hub, hearth_home):
    data = os.urandom(200_000)
    add_gguf_family(loopback_hub, "org/C-GGUF", {gguf_name("C", "Q4_K_M"): data})
    path = (
        Downloader(endpoint=loopback_hub.url, token=False)
        .download("org/C-GGUF", gguf_name("C", "Q4_K_M"))
        .path
    )
    other = path.parents[1] / ("f" * 40) / path.name  # an older revision with the same bytes
    other.parent.mkdir()
    other.symlink_to(os.readlink(path))
    (model,) = listing(hearth_home)  # one blob: listed once, by one of its snapshots
    (kept,) = {path, other} - {model.path}

    outcome = catalog.delete_model(model)

    assert outcome.freed_bytes == 0 and "0 B freed" in outcome.message
    assert not model.path.exists() and kept.read_bytes() == data


def test_a_lora_adapter_is_no_model_but_the_scan_can_list_it_with_its_base(
    hearth_home, tmp_path, starter_gguf
):
    from tests.support.lora import BASE_NAME, make_lora

    folder = tmp_path / "mine"
    folder.mkdir()
    make_lora(starter_gguf, folder / "style-lora.gguf")
    cache = HeaderCache(hearth_home.cache_dir / "h.json")
    args = (hearth_home.models_dir, hf_hub_cache(), [folder])
    assert list_models(*args, other_apps=False, header_cache=cache) == []
    (adapter,) = list_models(*args, other_apps=False, header_cache=cache, adapters=True)
    assert (adapter.path.name, adapter.adapter_of) == ("style-lora.gguf", BASE_NAME)
    assert adapter.to_json()["adapter_of"] == BASE_NAME
