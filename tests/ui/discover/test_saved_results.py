"""Discover's saved search results, damaged on disk: the page opens with what could be read and
says what was set aside."""

from __future__ import annotations

import json

import pytest

from app.core.hub.client import HubClient
from app.core.hub.files import HubModel
from app.ui.discover.page import DiscoverPage

GOOD = HubModel("org/Good-GGUF", "org", downloads=3, tags=("gguf",), quants=("Q4_K_M",))


def page(qtbot, services, tmp_path, content: str) -> DiscoverPage:
    cache = tmp_path / "discover.json"
    cache.write_text(content)
    widget = DiscoverPage(
        None,
        None,
        tmp_path / "models",
        client=HubClient("http://127.0.0.1:9", token=False),
        cache_file=cache,
        auto_search=False,
        machine_info=services.machine,
    )
    qtbot.addWidget(widget)
    qtbot.waitUntil(lambda: widget.cache_io.ended)  # read off the GUI thread
    return widget


@pytest.mark.parametrize(
    "query, models",
    [
        ({"text": 5, "author": ["x"], "size": {"a": 1}}, [GOOD.to_json(), {"id": "x", "tags": 7}]),
        ({"text": "ok"}, [GOOD.to_json(), {"id": "x", "parameters": "huge"}, None]),
    ],
)
def test_wrong_types_in_the_saved_results_show_the_good_ones(
    qtbot, services, tmp_path, query, models
):
    widget = page(
        qtbot,
        services,
        tmp_path,
        json.dumps(
            {"version": 1, "saved_at": "2025-01-02T03:04:05", "query": query, "models": models}
        ),
    )
    assert widget.results_model.models() == [GOOD]
    assert "result 2 is not a model" in widget.status.text()
    assert widget.query.text() == (query["text"] if isinstance(query["text"], str) else "")


def test_saved_results_nested_deeply_open_an_empty_page_with_a_message(qtbot, services, tmp_path):
    widget = page(qtbot, services, tmp_path, '{"models": ' + "[" * 200_000 + "]" * 200_000 + "}")
    assert widget.results_model.models() == []
    assert "nested too deeply" in widget.status.text()
    assert len(list(tmp_path.glob("discover.json.damaged-*"))) == 1
