"""Finding a model's image projector (mmproj) beside it: real files in a folder and in a
Hugging Face cache snapshot laid out as huggingface_hub lays it out."""

from __future__ import annotations

from pathlib import Path

from app.core.library.projector import find_projector


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF")
    return path


def test_the_projector_in_the_models_folder_is_found(tmp_path):
    model = touch(tmp_path / "llava" / "llava-v1.6-Q4_K_M.gguf")
    projector = touch(tmp_path / "llava" / "mmproj-model-f16.gguf")
    touch(tmp_path / "other" / "mmproj-other-f16.gguf")
    assert find_projector(model) == projector


def test_a_model_alone_has_no_projector(tmp_path):
    model = touch(tmp_path / "text" / "qwen-Q4_K_M.gguf")
    touch(tmp_path / "text" / "mmproj-empty-f16.gguf").write_bytes(b"")  # 0 bytes: no file
    assert find_projector(model) is None


def test_of_several_precisions_f16_is_chosen(tmp_path):
    model = touch(tmp_path / "m" / "gemma-3-4b-it-Q4_K_M.gguf")
    for name in ("mmproj-F32.gguf", "mmproj-BF16.gguf", "mmproj-Q8_0.gguf", "mmproj-F16.gguf"):
        touch(tmp_path / "m" / name)
    assert find_projector(model).name == "mmproj-F16.gguf"
    (tmp_path / "m" / "mmproj-F16.gguf").unlink()
    assert find_projector(model).name == "mmproj-BF16.gguf"


def test_in_a_hub_snapshot_the_projector_may_sit_in_another_folder(tmp_path):
    snapshot = tmp_path / "hub" / "models--org--vision" / "snapshots" / "abc123"
    model = touch(snapshot / "gguf" / "vision-Q4_K_M.gguf")
    projector = touch(snapshot / "projector" / "mmproj-vision-f16.gguf")
    touch(tmp_path / "hub" / "models--org--other" / "snapshots" / "def" / "mmproj-x-f16.gguf")
    assert find_projector(model) == projector


def test_a_projector_downloaded_at_a_later_commit_of_the_repo_is_found(tmp_path):
    snapshots = tmp_path / "hub" / "models--org--vision" / "snapshots"
    model = touch(snapshots / "first" / "vision-Q4_K_M.gguf")
    projector = touch(snapshots / "second" / "mmproj-vision-f16.gguf")
    assert find_projector(model) == projector


def test_in_a_folder_of_many_models_a_projector_goes_only_with_its_own(tmp_path, starter_gguf):
    """Hearth's own models folder is flat: the zoo's vision model and its projector beside the
    starter model. The projector's width (64) is the vision model's, not the starter's (576)."""
    from app.bench.zoo.vision import vision_pair
    from tests.conftest import cache_root

    pair = vision_pair(starter_gguf, cache_root() / "zoo")
    folder = tmp_path / "models"
    folder.mkdir()
    for source in (pair.model, pair.mmproj, starter_gguf):
        (folder / source.name).write_bytes(source.read_bytes())
    assert find_projector(folder / pair.model.name) == folder / pair.mmproj.name
    assert find_projector(folder / starter_gguf.name) is None
