"""Discover's automatic first list, against the loopback Hub: it leads with models a newcomer can
download and chat with, says what it left out, and a search of the user's own shows everything."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThreadPool

from app.core.hub.client import HubClient
from app.ui.discover.page import DiscoverPage
from tests.support.hub_repos import add_gguf_family, gguf_name
from tests.support.hub_server import LoopbackHub

WAIT = 15_000
GATED, TEST_REPO = "org/Gated-8B-GGUF", "tests/tiny-random-llama-GGUF"
OPEN = ["org/Open-1B-GGUF", "org/Other-3B-GGUF", "org/Third-2B-GGUF"]


@pytest.fixture(autouse=True)
def pool_drained():
    """No Hub request outlives its test (or the loopback Hub it talks to)."""
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT)


@pytest.fixture
def hub(loopback_hub: LoopbackHub) -> LoopbackHub:
    """The most downloaded repos are a gated one and a test one; the open ones follow."""
    files = {gguf_name("M", "Q4_K_M"): b"x"}
    for i, repo in enumerate([GATED, TEST_REPO, *OPEN]):
        add_gguf_family(
            loopback_hub, repo, files, downloads=10_000 - i, likes=5, gated=repo == GATED
        )
    return loopback_hub


def shown_page(qtbot, services, hub: LoopbackHub, tmp_path, page_size: int) -> DiscoverPage:
    """A first start: no saved results, so the page searches by itself once shown."""
    page = DiscoverPage(
        None,
        None,
        tmp_path / "models",
        client=HubClient(hub.url, token=False, retries=0),
        machine_info=services.machine,
        cache_file=tmp_path / "discover.json",
        page_size=page_size,
    )
    qtbot.addWidget(page)
    page.resize(1000, 700)
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.show()
    return page


def ids(page: DiscoverPage) -> list[str]:
    return [m.id for m in page.results_model.models()]


@pytest.mark.parametrize("page_size", [10, 2])  # 2: the Hub's whole first page is left out
def test_the_first_list_leads_with_open_models_and_says_what_it_left_out(
    qtbot, services, hub, tmp_path, page_size
) -> None:
    page = shown_page(qtbot, services, hub, tmp_path, page_size)

    assert ids(page)[:2] == OPEN[:2]
    assert GATED not in ids(page) and TEST_REPO not in ids(page)
    status = page.status.text()
    assert "gated models (they need an access request to download)" in status
    assert "search to see every model" in status


def test_a_search_of_the_users_own_still_shows_the_gated_and_test_repos(
    qtbot, services, hub, tmp_path
) -> None:
    page = shown_page(qtbot, services, hub, tmp_path, page_size=10)

    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.search()  # the Search button, with the same empty query
    assert ids(page) == [GATED, TEST_REPO, *OPEN]
    assert "leaves out" not in page.status.text()

    page.query.setText("Gated")
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.search()
    assert ids(page) == [GATED]


def test_a_first_list_left_empty_says_to_search_by_name(
    qtbot, services, loopback_hub, tmp_path
) -> None:
    """A Hub whose first repos are all unused (as a new mirror's, or the walk's loopback Hub)
    said "No GGUF models match. Try other words or filters." before the user typed anything."""
    files = {gguf_name("M", "Q4_K_M"): b"x"}
    add_gguf_family(loopback_hub, "org/Quiet-1B-GGUF", files, downloads=3, likes=0)
    page = shown_page(qtbot, services, loopback_hub, tmp_path, page_size=10)

    assert ids(page) == []
    status = page.status.text()
    assert status.startswith("Search for a model by name, e.g. qwen, llama, gemma.")
    assert "No GGUF models match" not in status
    assert "test and little-used repos" in status  # and why the list is empty

    page.query.setText("Quiet")
    with qtbot.waitSignal(page.results_model.page_loaded, timeout=WAIT):
        page.search()
    assert ids(page) == ["org/Quiet-1B-GGUF"]  # a search of the user's own finds it
