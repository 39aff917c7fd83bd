"""Discover's first list: the models a newcomer can download and chat with, without asking.

Discover opens on the most downloaded GGUF repos. Taken as the Hub lists them, that list leads
with repos a newcomer cannot use: gated ones (a download needs an access request and a token)
and junk. Both are left out of that first, automatic list only; a search the user makes shows
every repo, as the Hub lists it. Junk, plainly:

* a test or placeholder repo: a word of its name is one of ``JUNK_WORDS`` ("tiny-random-llama",
  "test-gguf", "dummy-model"). These answer nonsense, or are made to break things on purpose.
* a repo whose listing (asked with its files) names no GGUF model file of a known quant: only an
  imatrix, a vision projector or data files. There is nothing in it to chat with.
* an unused repo: no likes and fewer than ``FEW_DOWNLOADS`` downloads. Nobody has vouched for it.

``first_list(models)`` keeps the rest in the Hub's order; ``FirstListPages`` applies it to each
page of a search and counts what it left out, so the page can say so in one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.core.hub.client import SearchPages, SearchQuery
from app.core.hub.files import HubModel

JUNK_WORDS = frozenset(
    {"test", "tests", "testing", "dummy", "debug", "random", "tmp", "placeholder", "fake"}
)
FEW_DOWNLOADS = 100
_WORD = re.compile(r"[^a-z0-9]+")


def is_gated(model: HubModel) -> bool:
    """Whether downloading needs an access request (``gated`` is "auto" or "manual")."""
    return bool(model.gated)


def is_junk(model: HubModel) -> bool:
    """A test repo, a repo with no GGUF model file of a known quant, or an unused one."""
    words = set(_WORD.split(model.id.rsplit("/", 1)[-1].lower()))
    unused = model.likes == 0 and model.downloads < FEW_DOWNLOADS
    return bool(words & JUNK_WORDS) or not model.quants or unused


def first_list(models: Iterable[HubModel]) -> list[HubModel]:
    """The open, non-junk ``models``, in the order given (the Hub's)."""
    return [m for m in models if not is_gated(m) and not is_junk(m)]


class FirstListPages:
    """A search's pages (``SearchPages``) with ``first_list`` applied to each, for Discover's
    automatic first search. ``gated_left_out`` and ``junk_left_out`` count what it dropped."""

    def __init__(self, pages: SearchPages) -> None:
        self.pages = pages
        self.gated_left_out = 0
        self.junk_left_out = 0

    @property
    def query(self) -> SearchQuery:
        return self.pages.query

    @property
    def done(self) -> bool:
        return self.pages.done

    @property
    def pages_fetched(self) -> int:
        return self.pages.pages_fetched

    @property
    def repo_ref(self) -> str | None:
        return self.pages.repo_ref

    def next_page(self) -> list[HubModel]:
        """The next page's open, non-junk models (maybe none; see ``done``). Raises HubError."""
        page = self.pages.next_page()
        kept = first_list(page)
        gated = sum(1 for m in page if is_gated(m))
        self.gated_left_out += gated
        self.junk_left_out += len(page) - len(kept) - gated
        return kept
