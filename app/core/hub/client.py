"""Searching the Hugging Face Hub for GGUF models and describing one, with the real client.

    client = HubClient()                         # endpoint: HF_ENDPOINT read now, else the Hub
    pages = client.search(SearchQuery("qwen", sort="likes", size="3-8B"))
    first = pages.next_page()                    # one HTTP page; call again for the next
    details = client.details("org/Model-GGUF")   # card, license, gated, files grouped by quant

The requests go through ``huggingface_hub`` (its session, headers, token and error types).
Listing pages are fetched one at a time by following the Hub's ``Link: rel="next"`` header:
``HfApi.list_models`` cannot do that, as its ``limit`` is both the page size and the total.
A page is asked with ``expand=[...]`` for the fields Discover shows (the Hub's default listing
carries no author, date, ``gguf`` or file list). Parameter size, architecture and "fits this
machine" are filtered here, on what the Hub returns; author on the Hub.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from app.core.common.errors import HubError, HubRepoNotFound, HubUnavailable
from app.core.downloads.downloader import hub_endpoint
from app.core.hub import files
from app.core.hub.files import HubModel, ModelDetails, details_from_info, model_from_info
from app.core.hub.token import check_token, save_token  # re-exported: hub.save_token

if TYPE_CHECKING:  # types only: fit estimates are loaded when a search first asks for one
    from huggingface_hub.hf_api import ExpandModelProperty_T, RepoSibling

    from app.core.fit.estimate import Machine
    from app.core.fit.shape import ModelShape
    from app.core.fit.speed_here import SpeedHere

log = logging.getLogger("hearth.hub")
T = TypeVar("T")
QueryParams = list[tuple[str, str | int | float | bool | None]]  # a listing's, as httpx takes them

__all__ = [
    "HubClient",
    "HubModel",
    "ModelDetails",
    "SearchPages",
    "SearchQuery",
    "SORTS",
    "check_token",
    "explain",
    "model_details",
    "parse_repo_ref",
    "save_token",
    "search_models",
]

# What users pick -> the sort name the Hub's API takes (always descending).
SORTS = {
    "downloads": "downloads",
    "likes": "likes",
    "trending": "trendingScore",
    "updated": "lastModified",
}
EXPAND: list[ExpandModelProperty_T] = [
    "author",
    "downloads",
    "likes",
    "lastModified",
    "trendingScore",
    "tags",
    "gguf",
    "siblings",
    "gated",
]
MAX_PAGES_PER_CALL = 5  # client-side filters may empty a page: look this far for matches
_REPO = re.compile(r"^(?P<owner>[A-Za-z0-9][\w.-]*)/(?P<name>[\w.-]+)$")
_HUB_HOSTS = ("huggingface.co", "www.huggingface.co", "hf.co")
_NOT_MODELS = ("datasets", "spaces", "docs", "collections", "papers", "organizations")


@dataclass(frozen=True)
class SearchQuery:
    """A search as the user set it up. ``machine`` (a ``fit.Machine``) keeps models that fit."""

    text: str = ""
    sort: str = "downloads"
    author: str = ""
    architecture: str = ""
    size: str = ""  # a key of hub_files.SIZE_BUCKETS, "" for any
    machine: Machine | None = field(default=None, compare=False)
    speeds: SpeedHere | None = field(default=None, compare=False)

    def matches(self, model: HubModel) -> bool:
        """Architecture, size and, with a machine, fit (``model.fit``, see ``with_fit``)."""
        if self.architecture and (model.architecture or "").lower() != self.architecture.lower():
            return False
        if self.size and files.size_bucket(model.parameters) != self.size:
            return False
        # A model whose fit cannot be estimated is kept (shown as "fit unknown"), not hidden.
        return self.machine is None or model.fit is None or model.fit.fits

    def with_fit(self, model: HubModel, shape: ModelShape | None = None) -> HubModel:
        """``model`` with its fit badge for ``machine`` (``hub_fit.estimate``; ``shape``: the
        smallest file's, read by the model page). Unchanged without a machine."""
        if self.machine is None:
            return model
        from app.core.hub.fit import estimate

        return replace(model, fit=estimate(model, self.machine, shape, self.speeds))


def parse_repo_ref(text: str, endpoint: str | None = None) -> str | None:
    """The ``owner/name`` a user means by ``owner/name`` or a pasted Hub link, else None.

    Raises HubError for links to datasets or Spaces, which hold no GGUF models."""
    text = text.strip().rstrip("/")
    if "://" in text or text.startswith(_HUB_HOSTS):
        parts = urlsplit(text if "://" in text else f"https://{text}")
        hosts = _HUB_HOSTS + ((urlsplit(endpoint).netloc,) if endpoint else ())
        if parts.netloc.lower() not in hosts:
            return None
        segments = [s for s in parts.path.split("/") if s]
        if segments and segments[0] in _NOT_MODELS:
            raise HubError(
                f"That link points to Hugging Face {segments[0]}, not to a model. "
                "Paste the link of a model page (huggingface.co/owner/name)."
            )
        if segments and segments[0] == "models":
            segments = segments[1:]
        text = "/".join(segments[:2])
    return text if _REPO.match(text) else None


class HubClient:
    """Hub look-ups with a short retry on transient failures (5xx, 429, dropped connections)."""

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | bool | None = None,
        *,
        retries: int = 2,
        backoff_s: float = 0.5,
        timeout_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._endpoint, self.token = endpoint, token
        self.retries, self.backoff_s, self.timeout_s, self._sleep = (
            retries,
            backoff_s,
            timeout_s,
            sleep,
        )
        # repo id (lower case) -> its smallest file's shape
        self._shapes: dict[str, ModelShape] = {}
        self._shapes_lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The endpoint given, else ``HF_ENDPOINT`` read now (not at import), else the Hub."""
        return hub_endpoint(self._endpoint)

    def search(self, query: SearchQuery, page_size: int = 30) -> SearchPages:
        if query.sort not in SORTS:
            raise HubError(f"Unknown sort '{query.sort}'. Choose one of: {', '.join(SORTS)}.")
        return SearchPages(self, query, page_size)

    def details(self, repo_id: str) -> ModelDetails:
        """Everything the model page shows; the README is fetched too (empty when refused)."""
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self.endpoint, token=self.token)
        info = self.call(lambda: api.model_info(repo_id, files_metadata=True), repo_id)
        with unreadable_answer(repo_id):
            card, note = self._card(repo_id, info.sha or "main", info.siblings or [])
            return details_from_info(info, card, note)

    def info(self, repo_id: str) -> HubModel:
        """One repo, described as a search result."""
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self.endpoint, token=self.token)
        info = self.call(lambda: api.model_info(repo_id, expand=EXPAND), repo_id)
        with unreadable_answer(repo_id):
            return model_from_info(info)

    def file_shape(self, repo_id: str, filename: str, revision: str | None = None) -> ModelShape:
        """The ``ModelShape`` of a file of ``repo_id`` from its GGUF header (Range requests),
        kept by repo so Discover's fit badges can use it (``known_shape``). The model page
        asks for the repo's smallest file. Raises HearthError."""
        from app.core.fit.shape import shape_from_hub

        shape = shape_from_hub(
            repo_id, filename, revision=revision, endpoint=self.endpoint, token=self.token
        )
        with self._shapes_lock:
            self._shapes[repo_id.lower()] = shape
        return shape

    def known_shape(self, repo_id: str) -> ModelShape | None:
        """The shape ``file_shape`` read for ``repo_id``, or None."""
        with self._shapes_lock:
            return self._shapes.get(repo_id.lower())

    def get_page(
        self, url: str, params: QueryParams | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a listing and the URL of the next one (None on the last page)."""
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        def fetch() -> tuple[Any, str | None]:
            response = get_session().get(
                url,
                params=params,
                timeout=self.timeout_s,
                headers=build_hf_headers(token=self.token),
            )
            hf_raise_for_status(response)
            return response.json(), response.links.get("next", {}).get("url")

        items, next_url = self.call(fetch, "")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise HubError(
                "The Hugging Face Hub sent a listing Hearth cannot read. Try again later."
            )
        if next_url and _origin(next_url) != _origin(self.endpoint):
            # The token goes only to the Hub itself: a next page elsewhere is not followed.
            log.warning("Not following a next-page link to another server")
            next_url = None
        return items, next_url

    def call(self, action: Callable[[], T], repo_id: str) -> T:
        """Run ``action``, retrying transient failures; raise a HubError a user can act on."""
        for attempt in range(self.retries + 1):
            try:
                return action()
            except ValueError as exc:  # includes JSONDecodeError: a body that is not JSON
                if "Repo id" in str(exc) or "repo_id" in str(exc):
                    raise
                raise HubError(
                    "The Hugging Face Hub sent an answer Hearth cannot read. Try again later."
                ) from exc
            except Exception as exc:  # noqa: BLE001 - sorted out by explain()
                error = explain(exc, repo_id, self.endpoint)
                if error is None and isinstance(exc, (KeyError, TypeError, AttributeError)):
                    raise HubError(
                        "The Hugging Face Hub sent an answer Hearth cannot read "
                        f"({exc.__class__.__name__}). Try again later."
                    ) from exc
                if error is None:
                    raise
                if not isinstance(error, HubUnavailable) or attempt == self.retries:
                    raise error from exc
                log.info("Hub request failed (%s); retrying", error)
                self._sleep(min(8.0, self.backoff_s * 2**attempt))
        raise AssertionError("unreachable")

    def _card(
        self, repo_id: str, revision: str, siblings: Iterable[RepoSibling]
    ) -> tuple[str, str]:
        """The README's text, or "" and a note saying why it is missing."""
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        if not any(s.rfilename == "README.md" for s in siblings):
            return "", "This model has no model card."
        url = hf_hub_url(repo_id, "README.md", revision=revision, endpoint=self.endpoint)

        def fetch() -> str:
            response = get_session().get(
                url,
                timeout=self.timeout_s,
                follow_redirects=True,
                headers=build_hf_headers(token=self.token),
            )
            hf_raise_for_status(response)
            return response.text

        try:
            return self.call(fetch, repo_id), ""
        except HubError as exc:
            log.info("Model card of %s not shown: %s", repo_id, exc)
            return "", f"The model card could not be loaded: {exc}"


class SearchPages:
    """The results of one search, a page at a time. A failed page can be asked for again."""

    def __init__(self, client: HubClient, query: SearchQuery, page_size: int) -> None:
        self.client, self.query, self.page_size = client, query, page_size
        self.done = False
        self.pages_fetched = 0
        self._next_url: str | None = None
        self._ref = parse_repo_ref(query.text, client.endpoint)

    @property
    def repo_ref(self) -> str | None:
        """The repo the query names (``owner/name`` or a link), if it names one."""
        return self._ref

    def __iter__(self) -> Iterator[list[HubModel]]:
        while not self.done:
            yield self.next_page()

    def next_page(self) -> list[HubModel]:
        """The next page of matches ([] when there are none left). Raises HubError."""
        if self.done:
            return []
        if self._ref and self.pages_fetched == 0:
            exact = self._exact(self._ref)
            if exact is not None:
                return exact
        matches: list[HubModel] = []
        for _ in range(MAX_PAGES_PER_CALL):
            if self._next_url is None:
                url, params = f"{self.client.endpoint}/api/models", self._params()
            else:
                url, params = self._next_url, None
            items, next_url = self.client.get_page(url, params)
            self._next_url, self.done = next_url, next_url is None
            self.pages_fetched += 1
            with unreadable_answer(""):
                found = [
                    self.query.with_fit(m, self.client.known_shape(m.id))
                    for m in map(model_from_item, items)
                ]
                matches += [m for m in found if self.query.matches(m)]
            if matches or self.done:
                break
        return matches

    def _exact(self, ref: str) -> list[HubModel] | None:
        """A repo named exactly (``owner/name`` or a link): just that one, if it exists."""
        try:
            model = self.client.info(ref)
        except HubRepoNotFound:
            return None  # not a repo after all: search for the words instead
        self.done, self.pages_fetched = True, 1
        return [self.query.with_fit(model, self.client.known_shape(model.id))]

    def _params(self) -> QueryParams:
        query = self.query
        params: QueryParams = [
            ("filter", "gguf"),
            ("sort", SORTS[query.sort]),
            ("limit", self.page_size),
        ]
        if query.text.strip():
            params.append(("search", query.text.strip()))
        if query.author.strip():
            params.append(("author", query.author.strip()))
        return params + [("expand", name) for name in EXPAND]


def _origin(url: str) -> tuple[str, str, int | None]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@contextlib.contextmanager
def unreadable_answer(repo_id: str) -> Iterator[None]:
    """Turn a Hub answer with missing or mistyped fields into a HubError a user can read."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        where = f" about {repo_id}" if repo_id else ""
        raise HubError(
            f"The Hugging Face Hub sent an answer{where} that Hearth cannot read "
            f"({exc.__class__.__name__}). Try again later."
        ) from exc


def model_from_item(item: dict[str, Any]) -> HubModel:
    from huggingface_hub import ModelInfo

    item.setdefault("siblings", None)
    return model_from_info(ModelInfo(**item))  # type: ignore[no-untyped-call]  # its **kwargs


def search_models(
    query: str,
    *,
    sort: str = "downloads",
    limit: int = 50,
    endpoint: str | None = None,
    token: str | bool | None = None,
    client: HubClient | None = None,
) -> list[HubModel]:
    """Up to ``limit`` results of a keyword search (``owner/name`` or a link: that repo)."""
    client = client or HubClient(endpoint, token)
    pages = client.search(SearchQuery(query, sort=sort), page_size=min(max(limit, 1), 100))
    found: list[HubModel] = []
    while len(found) < limit and not pages.done:
        found += pages.next_page()
    return found[:limit]


def model_details(
    repo: str, endpoint: str | None = None, token: str | bool | None = None
) -> ModelDetails:
    """The model page's content for ``repo`` (``owner/name`` or a Hub link)."""
    client = HubClient(endpoint, token)
    repo_id = parse_repo_ref(repo, client.endpoint)
    if repo_id is None:
        raise HubError(
            f"'{repo}' is not a Hub model name: expected owner/name, or a link like "
            "https://huggingface.co/owner/name."
        )
    return client.details(repo_id)


def age(when: datetime | None, now: datetime | None = None) -> str:
    """``3 days ago``, ``2 months ago``: how Discover shows the last update."""
    if when is None:
        return ""
    now = now or datetime.now(when.tzinfo)
    seconds = max(0.0, (now - when).total_seconds())
    for unit, size in (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def explain(exc: BaseException, repo_id: str, endpoint: str) -> HubError | None:
    """The HubError to show for a failed Hub request; None for an error that is not one."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, GatedRepoError):
        return HubError(
            f"{repo_id} is gated: accept its conditions on its Hub page, then enter "
            "a Hub token of that account."
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubRepoNotFound(
            f"There is no model called '{repo_id}' on the Hub (or it is "
            "private). Check the name: owner/name, as in its Hub address."
        )
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        if status == 429:
            return HubUnavailable(
                "The Hub is receiving too many requests from here (429). Wait a minute, then retry."
            )
        if status >= 500:
            return HubUnavailable(
                f"The Hugging Face Hub is having trouble (error {status}). Try again in a moment."
            )
        if status == 401:
            return HubError(
                "The Hub refused the Hub token (401). Enter a new token, or remove "
                "the stored one (hf auth logout)."
            )
        return HubError(
            f"The Hub refused the request (error {status}): {exc.server_message or exc}"
        )
    if isinstance(exc, OfflineModeIsEnabled):
        return HubUnavailable(
            "Offline mode is on (HF_HUB_OFFLINE is set): Hearth does not "
            "contact the Hub. Unset it to search and download."
        )
    if isinstance(exc, httpx2.TimeoutException):
        return HubUnavailable(
            f"The Hub ({endpoint}) did not answer in time. Check the internet "
            "connection, then retry."
        )
    if isinstance(exc, (httpx2.TransportError, OSError)):
        return HubUnavailable(
            f"Could not reach the Hugging Face Hub ({endpoint}). Check the "
            "internet connection, then retry."
        )
    if isinstance(exc, ValueError) and "json" in str(exc).lower():
        return HubUnavailable(
            f"The Hub ({endpoint}) sent an answer Hearth cannot read. Retry in a moment."
        )
    return None
