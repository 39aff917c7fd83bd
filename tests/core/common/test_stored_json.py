"""Hearth's JSON files damaged on disk: saved connections, download sidecars, saved search
results. Each gives a message and what could be read, and the damaged file is kept aside."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from app.core.common.errors import RemoteError
from app.core.common.paths import hf_hub_cache
from app.core.downloads.downloader import Downloader
from app.core.hub import saved_search
from app.core.hub.files import HubModel
from app.core.inference.remote import Connection, ConnectionStore
from tests.support.hub_repos import add_gguf_family, gguf_name


def kept(path):
    return sorted(path.parent.glob(f"{path.name}.damaged-*"))


# -- connections.json -------------------------------------------------------------------------


def test_connections_nested_200000_deep_say_so_once_and_are_kept_aside(tmp_path):
    path = tmp_path / "connections.json"
    data = '{"connections": ' + "[" * 200_000 + "]" * 200_000 + "}"
    path.write_text(data)
    store = ConnectionStore(path)

    with pytest.raises(
        RemoteError, match="Your saved connections could not be used .it is nested too deeply."
    ):
        store.connections()

    assert store.connections() == []  # said once: the file is aside now
    (copy,) = kept(path)
    assert copy.read_text() == data
    store.save(Connection("box", "http://127.0.0.1:8080"))
    assert [c.name for c in store.connections()] == ["box"]


def test_one_bad_connection_keeps_the_others_and_the_copy_stays_private(tmp_path):
    path = tmp_path / "connections.json"
    path.write_text(
        json.dumps(
            {
                "connections": [
                    {"name": "good", "base_url": "http://127.0.0.1:1/v1", "api_key": "sk-x"},
                    {"name": 5, "base_url": "http://x"},
                    ["not", "one"],
                    {"name": "bad-url", "base_url": "ftp://x"},
                ]
            }
        )
    )
    os.chmod(path, 0o600)
    store = ConnectionStore(path)

    with pytest.raises(RemoteError, match="entry 2 is not a usable connection; entry 3"):
        store.connections()

    assert store.connections() == [Connection("good", "http://127.0.0.1:1/v1", "sk-x")]
    (copy,) = kept(path)
    assert os.stat(copy).st_mode & 0o777 == 0o600 and os.stat(path).st_mode & 0o777 == 0o600


# -- download sidecars ------------------------------------------------------------------------


@pytest.mark.parametrize("sidecar", ["[]", '{"version": 1, "size": "x"}', "[" * 100_000])
def test_a_damaged_download_sidecar_does_not_stop_the_pull(loopback_hub, hearth_home, sidecar):
    data = os.urandom(300_000)
    name = gguf_name("Tiny", "Q4_K_M")
    add_gguf_family(loopback_hub, "org/Tiny-GGUF", {name: data})
    blobs = hf_hub_cache() / "models--org--Tiny-GGUF" / "blobs"
    blobs.mkdir(parents=True)
    record = blobs / f"{hashlib.sha256(data).hexdigest()}.part.json"
    record.write_text(sidecar)
    (blobs / record.name.removesuffix(".json")).write_bytes(b"junk of unknown origin")

    result = Downloader(endpoint=loopback_hub.url, token=False).download("org/Tiny-GGUF", name)

    assert result.path.read_bytes() == data
    (copy,) = kept(record)
    assert copy.read_text() == sidecar and not record.exists()


# -- discover_results.json --------------------------------------------------------------------

GOOD = HubModel(
    "org/Good-GGUF", "org", downloads=3, tags=("gguf",), quants=("Q4_K_M",), size_range=(1, 2)
)


@pytest.mark.parametrize(
    "models",
    [
        [{"id": 5}],
        [{"id": "x", "tags": "gguf"}],
        [{"id": "x", "size_range": [1]}],
        [{"id": "x", "parameters": "7B"}],
        [{"id": "x", "last_modified": "yesterday"}],
        [{"id": "x", "downloads": True}],
        ["x"],
        [[1]],
    ],
)
def test_saved_results_of_the_wrong_type_are_dropped_the_good_ones_shown(tmp_path, models):
    path = tmp_path / "discover_results.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "saved_at": "2025-01-02T03:04:05",
                "query": {"text": 5, "sort": "likes"},
                "models": [GOOD.to_json(), *models],
            }
        )
    )

    loaded = saved_search.load(path)

    assert loaded.value.models == (GOOD,) and loaded.value.query == {"sort": "likes"}
    assert "result 2 is not a model" in loaded.message and len(kept(path)) == 1


@pytest.mark.parametrize("content", ['{"models": 5}', "[]", '"x"', "[" * 50_000, "\xff"])
def test_unusable_saved_results_give_none_and_a_message(tmp_path, content):
    path = tmp_path / "discover_results.json"
    path.write_text(content, encoding="latin-1")
    loaded = saved_search.load(path)
    assert loaded.value is None and "could not be used" in loaded.message
    assert not path.exists() and len(kept(path)) == 1
