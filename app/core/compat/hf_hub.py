"""huggingface_hub's private helpers: Hearth reaches them only through here, and
tests/core/compat/test_hf_hub.py pins each one on the installed version (2.4.0), so a new
release that moves one fails that test, not the studio.

- Storing a token as ``huggingface_hub.login()`` does (``token`` and ``stored_tokens`` under
  ``HF_HOME``) without ``login()`` itself, which prints, asks about git credentials and checks
  the token with huggingface.co, not with the Hub the user set.
- The name of a repo's folder in the cache, and the lock on a blob that ``hf_hub_download``
  takes too, so Hearth's own downloader shares the cache with every other Hugging Face tool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def store_token(token: str, name: str) -> None:
    """Store ``token`` under ``name`` and make it the active one, with the helpers ``login()``
    itself uses (no git credential helper)."""
    from huggingface_hub._login import _set_active_token
    from huggingface_hub.utils._auth import _save_token

    _save_token(token=token, token_name=name)
    _set_active_token(token_name=name, add_to_git_credential=False)


def repo_folder_name(repo_id: str) -> str:
    """The cache folder of a model repo (``models--owner--name``)."""
    from huggingface_hub import file_download

    return file_download.repo_folder_name(repo_id=repo_id, repo_type="model")


def blob_lock(lock_path: Path, timeout: float) -> Any:
    """The lock ``hf_hub_download`` takes on a blob (``WeakFileLock``, a context manager that
    raises ``TimeoutError`` when another process holds it for ``timeout`` seconds)."""
    from huggingface_hub.utils import WeakFileLock

    return WeakFileLock(lock_path, timeout=timeout)
