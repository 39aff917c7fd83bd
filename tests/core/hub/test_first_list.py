"""Discover's first list: open, usable models in the Hub's order; gated and junk repos left out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.hub.client import HubClient, SearchQuery
from app.core.hub.files import HubModel
from app.core.hub.first_list import FEW_DOWNLOADS, FirstListPages, first_list, is_junk
from tests.support.hub_repos import add_gguf_family, gguf_name

NAME_WORDS = ("Llama", "Qwen2.5", "Instruct", "Chat", "Latest", "Coder", "Mini", "GGUF", "7B")
QUANTS = st.lists(st.sampled_from(["Q4_K_M", "Q8_0", "IQ2_XS", "F16"]), min_size=1, unique=True)


@st.composite
def usable(draw, gated: bool | str = False) -> HubModel:
    """A repo a newcomer could use (when not ``gated``): a real name, quants, some following."""
    words = draw(st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=4))
    owner = draw(st.sampled_from(["bartowski", "unsloth", "Qwen", "lmstudio-community"]))
    liked = draw(st.booleans())
    return HubModel(
        f"{owner}/{'-'.join(words)}-{draw(st.integers(0, 10**6))}",
        owner,
        downloads=draw(st.integers(0, 10**7) if liked else st.integers(FEW_DOWNLOADS, 10**7)),
        likes=draw(st.integers(1, 10**4) if liked else st.just(0)),
        quants=tuple(draw(QUANTS)),
        gated=gated,
    )


@st.composite
def junk(draw) -> HubModel:
    """A test repo, a repo with no GGUF quant, or an unused one, possibly gated as well."""
    model = draw(usable(gated=draw(st.sampled_from([False, "auto", "manual"]))))
    kind = draw(st.sampled_from(["test", "no gguf", "unused"]))
    if kind == "test":
        word = draw(st.sampled_from(["test", "dummy", "tiny-random", "Debug", "testing"]))
        return HubModel(
            f"{model.id}-{word}",
            model.author,
            model.downloads,
            model.likes,
            quants=model.quants,
            gated=model.gated,
        )
    if kind == "no gguf":
        return HubModel(model.id, model.author, model.downloads, model.likes, gated=model.gated)
    downloads = draw(st.integers(0, FEW_DOWNLOADS - 1))
    return HubModel(model.id, model.author, downloads, 0, quants=model.quants, gated=model.gated)


LABELLED = st.lists(
    st.one_of(
        usable().map(lambda m: ("open", m)),
        usable(gated=True).map(lambda m: ("gated", m)),
        usable(gated="manual").map(lambda m: ("gated", m)),
        junk().map(lambda m: ("junk", m)),
    ),
    max_size=40,
)


@given(LABELLED)
def test_the_first_list_keeps_every_open_usable_model_in_the_hubs_order(labelled) -> None:
    models = [m for _, m in labelled]
    shown = first_list(models)
    assert shown == [m for kind, m in labelled if kind == "open"]
    assert not any(m.gated for m in shown)


@pytest.mark.parametrize(
    "repo, likes, downloads, quants, expected",
    [
        ("bartowski/Llama-3.2-1B-Instruct-GGUF", 40, 90_000, ("Q4_K_M",), False),
        ("Qwen/Qwen2.5-Latest-GGUF", 3, 500, ("Q8_0",), False),  # "latest" is not "test"
        ("org/New-Model-GGUF", 0, FEW_DOWNLOADS, ("Q4_K_M",), False),  # downloaded: not unused
        ("hf-internal-testing/tiny-random-LlamaForCausalLM-GGUF", 5, 10**6, ("F16",), True),
        ("someone/test-gguf", 2, 3_000, ("Q4_0",), True),
        ("someone/Model-imatrix", 9, 50_000, (), True),  # an imatrix or data only: no quant
        ("someone/Model-GGUF", 0, FEW_DOWNLOADS - 1, ("Q4_K_M",), True),  # nobody uses it
    ],
)
def test_what_counts_as_junk(repo, likes, downloads, quants, expected) -> None:
    model = HubModel(repo, repo.split("/")[0], downloads, likes, quants=quants)
    assert is_junk(model) is expected


def test_first_list_pages_leave_out_and_count_gated_and_junk_repos(loopback_hub) -> None:
    files = {gguf_name("M", "Q4_K_M"): b"x"}
    for i, (repo, gated) in enumerate(
        [
            ("org/Gated-8B-GGUF", "manual"),
            ("org/Open-1B-GGUF", False),
            ("tests/tiny-random-GGUF", False),
            ("org/Other-3B-GGUF", False),
            ("org/Auto-2B-GGUF", True),
        ]
    ):
        add_gguf_family(loopback_hub, repo, files, downloads=1000 - i, likes=3, gated=gated)
    client = HubClient(loopback_hub.url, token=False, retries=0)
    plain = client.search(SearchQuery(), page_size=10)
    first = FirstListPages(client.search(SearchQuery(), page_size=10))

    assert [m.id for m in first.next_page()] == ["org/Open-1B-GGUF", "org/Other-3B-GGUF"]
    assert (first.gated_left_out, first.junk_left_out, first.done) == (2, 1, True)
    assert len(plain.next_page()) == 5  # a search of the user's own shows every repo
