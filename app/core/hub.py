"""Searching the Hugging Face Hub for GGUF models, through the real ``huggingface_hub`` client.

``endpoint=None`` means what huggingface_hub resolves itself (``HF_ENDPOINT`` or the Hub).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from app.core.errors import HubError

log = logging.getLogger("hearth.hub")

SORTS = {"downloads": "downloads", "likes": "likes", "trending": "trending_score",
         "updated": "last_modified"}


@dataclass(frozen=True)
class HubModel:
    id: str
    author: str
    downloads: int
    likes: int
    last_modified: datetime | None
    tags: tuple[str, ...]

    def to_json(self) -> dict:
        return {"id": self.id, "author": self.author, "downloads": self.downloads,
                "likes": self.likes,
                "last_modified": self.last_modified.isoformat() if self.last_modified else None,
                "tags": list(self.tags)}


def search_models(query: str, *, sort: str = "downloads", limit: int = 50,
                  endpoint: str | None = None, token: str | None = None) -> list[HubModel]:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    if sort not in SORTS:
        raise HubError(f"Unknown sort '{sort}'. Choose one of: {', '.join(SORTS)}.")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        found = api.list_models(search=query or None, filter="gguf", sort=SORTS[sort],
                                limit=limit)
        return [HubModel(id=m.id, author=m.author or m.id.split("/")[0],
                         downloads=m.downloads or 0, likes=m.likes or 0,
                         last_modified=m.last_modified, tags=tuple(m.tags or ()))
                for m in found]
    except HfHubHTTPError as exc:
        raise HubError(f"The Hugging Face Hub answered with an error: {exc}") from exc
    except OSError as exc:
        raise HubError("Could not reach the Hugging Face Hub. Check the internet connection "
                       f"and try again. ({exc.__class__.__name__})") from exc
