"""The library finds real GGUF files in every place they live: the HF cache (filled by a real
download from the loopback Hub), a user's folder, LM Studio's folders and Ollama's store."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download, scan_cache_dir
from huggingface_hub.utils import disable_progress_bars

from app.core.common.errors import LibraryError
from app.core.common.paths import hf_hub_cache
from app.core.gguf.info import read_info
from app.core.library import catalog
from app.core.library.catalog import HeaderCache, list_models
from tests.support.hub_repos import add_gguf_family, gguf_name

SMOL_PARAMS = 134_515_008


def link(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(source, target)
    return target


def listing(hearth_home, home: Path, **kwargs) -> list[catalog.LocalModel]:
    kwargs.setdefault("environ", {})
    return list_models(
        hearth_home.models_dir,
        hf_hub_cache(),
        home=home,
        header_cache=HeaderCache(hearth_home.cache_dir / "headers.json"),
        **kwargs,
    )


def by_source(models, source) -> list[catalog.LocalModel]:
    return [m for m in models if m.source == source]


@pytest.fixture
def downloaded(loopback_hub, quant_ladder, hearth_home) -> Path:
    """Q2_K and Q3_K_M of the real SmolLM2, downloaded into the HF cache by hf_hub_download."""
    files = {quant_ladder[q].name: quant_ladder[q] for q in ("Q2_K", "Q3_K_M")}
    add_gguf_family(loopback_hub, "bartowski/SmolLM2-135M-Instruct-GGUF", files)
    with disable_progress_bars():
        # cache_dir: huggingface_hub read HF_HOME at import, before the test moved it to tmp_path
        paths = [
            hf_hub_download(
                "bartowski/SmolLM2-135M-Instruct-GGUF",
                name,
                token=False,
                endpoint=loopback_hub.url,
                cache_dir=hf_hub_cache(),
            )
            for name in files
        ]
    return Path(paths[0])


def test_the_hf_cache_after_a_real_download(downloaded, hearth_home, tmp_path, quant_ladder):
    models = by_source(listing(hearth_home, tmp_path / "home"), "hf-cache")

    assert [m.name for m in models] == [
        "bartowski/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q2_K.gguf",
        "bartowski/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q3_K_M.gguf",
    ]
    q2 = models[0]
    assert q2.path == downloaded and q2.repo_id == "bartowski/SmolLM2-135M-Instruct-GGUF"
    assert (q2.quant, q2.size_bytes) == ("Q2_K", quant_ladder["Q2_K"].stat().st_size)
    assert (q2.architecture, q2.parameters, q2.context_length) == ("llama", SMOL_PARAMS, 8192)
    # The header facts are those the gguf package reads.
    info = read_info(q2.path)
    assert (info.architecture, info.parameters, info.context_length) == (
        q2.architecture,
        q2.parameters,
        q2.context_length,
    )


def test_a_user_folder(starter_gguf, hearth_home, tmp_path):
    folder = tmp_path / "My Models"
    link(starter_gguf, folder / "chat" / "smol.gguf")  # no quant in the name: read from the header
    shards = [folder / gguf_name("Big", "Q8_0", part=i, parts=2) for i in (1, 2)]
    for shard in shards:
        shard.write_bytes(os.urandom(1000))
    (folder / "mmproj-Big-f16.gguf").write_bytes(b"GGUF")
    (folder / "notes.txt").write_text("not a model")

    models = listing(hearth_home, tmp_path / "home", extra_folders=[str(folder)])

    assert [(m.name, m.source, m.quant, m.size_bytes) for m in models] == [
        ("Big-Q8_0-00001-of-00002", "folder", "Q8_0", 2000),
        ("smol", "folder", "Q4_1", starter_gguf.stat().st_size),
    ]
    big, smol = models
    assert big.all_files == tuple(shards) and big.architecture is None  # random bytes
    assert (smol.architecture, smol.parameters, smol.context_length) == ("llama", SMOL_PARAMS, 8192)
    assert smol.to_json()["files"] == [str(folder / "chat" / "smol.gguf")]


def test_lm_studio_folders(starter_gguf, quant_ladder, hearth_home, tmp_path):
    home = tmp_path / "home"
    new = link(
        starter_gguf,
        home / ".lmstudio/models/lmstudio-community/SmolLM2-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf",
    )
    old = link(
        quant_ladder["Q6_K"],
        home / ".cache/lm-studio/models/bartowski/Smol-GGUF/SmolLM2-135M-Instruct-Q6_K.gguf",
    )

    models = by_source(listing(hearth_home, home), "lmstudio")

    assert [(m.name, m.repo_id, m.path, m.quant) for m in models] == [
        ("bartowski/Smol-GGUF/SmolLM2-135M-Instruct-Q6_K.gguf", "bartowski/Smol-GGUF", old, "Q6_K"),
        (
            "lmstudio-community/SmolLM2-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf",
            "lmstudio-community/SmolLM2-GGUF",
            new,
            "Q4_1",
        ),
    ]
    assert all(m.architecture == "llama" and m.parameters == SMOL_PARAMS for m in models)
    assert listing(hearth_home, home, other_apps=False) == []


def ollama_store(
    root: Path,
    blob_source: Path,
    name: str = "smollm2",
    tag: str = "135m",
    namespace: str = "library",
    host: str = "registry.ollama.ai",
) -> Path:
    digest = hashlib.sha256(blob_source.read_bytes()).hexdigest()
    blob = root / "blobs" / f"sha256-{digest}"
    if not blob.exists():
        link(blob_source, blob)
    (root / "blobs" / "sha256-0123").write_text("{{ .Prompt }}")
    manifest = root / "manifests" / host / namespace / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": "sha256:0123",
                    "size": 13,
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.ollama.image.template",
                        "digest": "sha256:0123",
                        "size": 13,
                    },
                    {
                        "mediaType": "application/vnd.ollama.image.model",
                        "digest": f"sha256:{digest}",
                        "size": blob_source.stat().st_size,
                    },
                ],
            }
        )
    )
    return blob


def test_ollama_store(starter_gguf, quant_ladder, hearth_home, tmp_path):
    home = tmp_path / "home"
    store = home / ".ollama" / "models"
    blob = ollama_store(store, starter_gguf)
    ollama_store(store, starter_gguf, tag="latest")  # a second tag of the same blob
    ollama_store(store, quant_ladder["Q8_0"], "Smol-GGUF", "Q8_0", "bartowski", "hf.co")
    gone = store / "manifests/registry.ollama.ai/library/missing/latest"
    gone.parent.mkdir(parents=True)
    gone.write_text(
        json.dumps(
            {
                "layers": [
                    {
                        "mediaType": "application/vnd.ollama.image.model",
                        "digest": "sha256:" + "f" * 64,
                    }
                ]
            }
        )
    )
    (store / "manifests/registry.ollama.ai/library/broken").mkdir()
    (store / "manifests/registry.ollama.ai/library/broken/latest").write_text("{not json")

    models = by_source(listing(hearth_home, home), "ollama")

    assert [(m.name, m.quant) for m in models] == [
        ("hf.co/bartowski/Smol-GGUF:Q8_0", "Q8_0"),
        ("smollm2:135m", "Q4_1"),
    ]
    assert models[1].path == blob and models[1].size_bytes == starter_gguf.stat().st_size
    assert (models[1].architecture, models[1].context_length) == ("llama", 8192)


def test_ollama_models_variable(starter_gguf, hearth_home, tmp_path):
    ollama_store(tmp_path / "elsewhere", starter_gguf)
    models = listing(
        hearth_home, tmp_path / "home", environ={"OLLAMA_MODELS": str(tmp_path / "elsewhere")}
    )
    assert [m.name for m in models] == ["smollm2:135m"]


def test_a_file_found_twice_is_listed_once_and_hidden_ones_not_at_all(starter_home, tmp_path):
    starter = starter_home.models_dir / "starter" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    models = listing(starter_home, tmp_path / "home", extra_folders=[starter_home.models_dir])
    assert [(m.name, m.source) for m in models] == [("SmolLM2-135M-Instruct.Q4_1", "starter")]
    assert listing(starter_home, tmp_path / "home", hidden=[str(starter)]) == []


def test_headers_are_read_once_per_file_version(starter_gguf, hearth_home, tmp_path, monkeypatch):
    folder = tmp_path / "folder"
    copy = folder / "smol.gguf"
    folder.mkdir()
    copy.write_bytes(starter_gguf.read_bytes())
    reads = []
    real = catalog._read_header
    monkeypatch.setattr(catalog, "_read_header", lambda p: reads.append(p) or real(p))

    first = listing(hearth_home, tmp_path / "home", extra_folders=[folder])
    again = listing(hearth_home, tmp_path / "home", extra_folders=[folder])
    assert reads == [copy] and first == again and again[0].parameters == SMOL_PARAMS
    with open(copy, "r+b") as handle:  # a damaged copy: new size, header no longer readable
        handle.truncate(1000)
    (damaged,) = listing(hearth_home, tmp_path / "home", extra_folders=[folder])
    assert reads == [copy, copy] and damaged.architecture is None and damaged.size_bytes == 1000
    (hearth_home.cache_dir / "headers.json").write_text("{damaged")
    assert listing(hearth_home, tmp_path / "home", extra_folders=[folder]) == [damaged]


# -- deleting ---------------------------------------------------------------------------------------


def test_delete_from_the_hf_cache(downloaded, hearth_home, tmp_path):
    home = tmp_path / "home"
    q2, q3 = by_source(listing(hearth_home, home), "hf-cache")

    outcome = catalog.delete_model(q2)
    assert "Deleted" in outcome.message and outcome.freed_bytes == q2.size_bytes
    assert outcome.hidden is None and not q2.path.exists()
    assert [m.name for m in listing(hearth_home, home)] == [q3.name]

    outcome = catalog.delete_model(q3)  # the last model of the repo: its revision goes
    assert outcome.freed_bytes >= q3.size_bytes
    assert listing(hearth_home, home) == [] and not scan_cache_dir(hf_hub_cache()).repos


def test_delete_from_hearths_folder(starter_home, tmp_path):
    (starter,) = listing(starter_home, tmp_path / "home")
    outcome = catalog.delete_model(starter)
    assert outcome.message.startswith("Deleted SmolLM2") and not starter.path.exists()


def test_other_apps_files_are_only_hidden_unless_asked(starter_gguf, hearth_home, tmp_path):
    home = tmp_path / "home"
    lms = link(starter_gguf, home / ".lmstudio/models/pub/repo/smol-Q4_1.gguf")
    blob = ollama_store(home / ".ollama/models", starter_gguf)
    hidden = []
    for model in listing(hearth_home, home):
        outcome = catalog.delete_model(model)
        assert "The file was not deleted" in outcome.message and str(model.path) in outcome.message
        hidden.append(outcome.hidden)
    assert lms.exists() and blob.exists() and listing(hearth_home, home, hidden=hidden) == []

    lm_studio, ollama = listing(hearth_home, home)
    with pytest.raises(LibraryError, match="ollama rm smollm2:135m"):
        catalog.delete_model(ollama, delete_file=True)
    outcome = catalog.delete_model(lm_studio, delete_file=True)
    assert not lms.exists() and blob.exists()
    assert "LM Studio will no longer find it" in outcome.message
