"""The model page's heading in a 1024-px window: the repo's name on one line, elided with its
whole id in the tooltip, and the card not repeating it in large type (issue 19: the card's
heading wrapped the repo name over 2-4 lines)."""

from __future__ import annotations

from app.core.fit import estimate
from app.core.hub.client import HubClient
from app.ui.discover.model_page import ModelPage, without_title
from tests.support.hub_repos import add_gguf_family, gguf_name

WAIT = 20_000
REPO = "SomeLongOrganisationName/Some-Very-Long-Model-Name-Instruct-v2.5-Preview-GGUF"


def test_a_first_heading_that_repeats_the_name_is_left_out() -> None:
    card = "# Some-Very-Long-Model-Name-Instruct-v2.5-Preview-GGUF\n\nGGUF quants of it."
    assert without_title(card, REPO) == "\nGGUF quants of it."
    assert without_title(f"# {REPO}\nText", REPO) == "Text"
    other = "# How to use\n\nRun it."
    assert without_title(other, REPO) == other  # a heading that says something stays


def test_a_long_repo_name_stays_on_one_line(qtbot, services, loopback_hub, keeper) -> None:
    keeper.apply("light")  # the page title's large type
    add_gguf_family(loopback_hub, REPO, {gguf_name("Long", "Q4_K_M"): b"x" * 1000})
    page = ModelPage(
        client=HubClient(loopback_hub.url, token=False, retries=0),
        machine=estimate.Machine(ram_bytes=2**30),
        machine_info=services.machine,
    )
    qtbot.addWidget(page)
    page.resize(1024 - 190, 640)  # beside the window's sidebar
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.show_repo(REPO)
    title = page.title
    assert title.text() == REPO and title.toolTip() == REPO
    shown = title.elided()
    assert shown.endswith("…") and len(shown) < len(REPO)
    assert title.height() < 2 * title.fontMetrics().height()  # one line
    assert page.minimumSizeHint().width() <= 1024 - 190
    assert page.card.toPlainText().startswith("GGUF quantizations of")  # no repeated name
