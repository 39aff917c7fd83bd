"""LoRA adapter repos on the Hub: what an adapter is made for, from what the Hub says.

A repo of GGUF LoRA adapters holds files no one can chat with on their own: each changes how
one base model answers. The Hub tags such a repo ``base_model:adapter:ORG/NAME`` (from its
card's ``base_model`` with ``base_model_relation: adapter``); failing that, the file's own
header says ``general.type = adapter``, and may name its base model. Where neither names
one, the base model is unknown ("").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.core.gguf.adapter import is_adapter, shown_text
from app.core.gguf.header import GgufHeader, read_remote_header

TAG = "base_model:adapter:"
UNKNOWN = "adapter (base model unknown)"


def adapter_from_listing(tags: Iterable[str], card_data: Any = None) -> str | None:
    """The base model of an adapter repo as its Hub listing names it (``ORG/NAME``; "" when
    it is an adapter of an unnamed model), or None when the listing does not say adapter."""
    for tag in tags:
        if isinstance(tag, str) and tag.startswith(TAG):  # a listing may hold anything
            return shown_text(tag[len(TAG) :])
    if card_data is not None and getattr(card_data, "base_model_relation", None) == "adapter":
        base = getattr(card_data, "base_model", None)
        if isinstance(base, list):
            base = base[0] if base else None
        return shown_text(base)
    return None


def adapter_from_header(header: GgufHeader) -> str | None:
    """The base model a GGUF adapter's header names (its Hub id when it gives the repo's
    address, else its name; "" when none), or None when the file is no LoRA adapter."""
    if not is_adapter(header):
        return None
    url = shown_text(header.get("general.base_model.0.repo_url"), limit=1000)
    marker = "huggingface.co/"
    if marker in url:
        return shown_text(url.split(marker, 1)[1].strip("/"))
    return shown_text(header.get("general.base_model.0.name"))


def read_hub_adapter(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> str | None:
    """``adapter_from_header`` for a file on the Hub (its header only, by Range requests).
    Raises HubError when the file cannot be reached."""
    remote = read_remote_header(
        repo_id, filename, revision=revision, endpoint=endpoint, token=token
    )
    return adapter_from_header(remote.header) if remote.header is not None else None


def adapter_words(base: str) -> str:
    """What the model page calls an adapter repo: "LoRA adapter for ORG/NAME"."""
    return f"LoRA adapter for {base}" if base else f"LoRA {UNKNOWN}"
