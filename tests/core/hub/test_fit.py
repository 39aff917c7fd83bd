"""Discover's fit badges: which basis each uses, and that a better basis changes the answer."""

from __future__ import annotations

import os

import pytest

from app.core.config import presets
from app.core.fit import estimate
from app.core.fit.shape import shape_from_file
from app.core.hub import fit
from app.core.hub.client import HubClient, SearchQuery
from app.core.hub.files import HubModel
from tests.support.hub_repos import add_gguf_family

SMALL = estimate.Machine(ram_bytes=1 * 2**30)  # a small machine: 1 GiB free
LAPTOP = estimate.Machine(ram_bytes=16 * 2**30)


def client(hub) -> HubClient:
    return HubClient(hub.url, token=False, retries=0)


@pytest.fixture
def real_repo(loopback_hub, quant_ladder):
    """The real starter model's Q4_K_M and Q8_0, in a repo whose metadata says "7B" (wrong)."""
    files = {p.name: p for q, p in quant_ladder.items() if q in ("Q4_K_M", "Q8_0")}
    add_gguf_family(
        loopback_hub,
        "org/Smol-7B-GGUF",
        files,
        gguf={"total": 7_000_000_000, "architecture": "llama", "context_length": 8192},
    )
    return quant_ladder["Q4_K_M"]


def test_a_listing_without_file_sizes_is_judged_by_its_parameter_count(
    loopback_hub, real_repo
) -> None:
    (found,) = client(loopback_hub).search(SearchQuery("Smol", machine=LAPTOP)).next_page()

    badge = found.fit
    assert (badge.basis, badge.verdict) == (fit.BASIS_PARAMETERS, estimate.VERDICT_CPU)
    assert badge.label == "Fits in RAM · from its parameter count"
    assert badge.explanation.startswith(
        "CPU only — fits in RAM. Rough estimate from the parameter count and the smallest "
        "quant's bits per weight: 7.0B parameters, Q4_K_M, 3.9 GB, 8,192 tokens."
    )
    assert badge.explanation.endswith(
        "Open the model to read its file header for a closer estimate."
    )
    # 7B parameters in Q4_K_M do not fit in 1 GiB: the filter leaves the repo out
    assert client(loopback_hub).search(SearchQuery("Smol", machine=SMALL)).next_page() == []


def test_once_the_header_is_read_the_badge_rests_on_it(loopback_hub, real_repo) -> None:
    hub_client = client(loopback_hub)
    shape = hub_client.file_shape("org/Smol-7B-GGUF", real_repo.name)  # what the model page does

    (found,) = hub_client.search(SearchQuery("Smol", machine=SMALL)).next_page()

    # The real file is 105 MB: it fits the small machine after all, with the header's figures
    local = shape_from_file(real_repo)
    expected = estimate.plan(local, SMALL, presets.context_length(0, local.n_ctx_train)).verdict
    assert shape.exact and shape.tensors == local.tensors
    assert (found.fit.basis, found.fit.verdict) == (fit.BASIS_HEADER, expected)
    assert found.fit.label == "Fits in RAM · from its file header"
    assert "Estimated from the GGUF header of the smallest file" in found.fit.explanation
    assert "Q4_K_M, 105.5 MB, 8,192 tokens" in found.fit.explanation
    assert hub_client.known_shape("ORG/smol-7b-gguf") is shape  # kept by repo, any case
    assert client(loopback_hub).known_shape("org/Smol-7B-GGUF") is None  # per client


def test_a_file_whose_header_cannot_be_read_is_judged_by_its_size(loopback_hub) -> None:
    add_gguf_family(
        loopback_hub,
        "org/Odd-1B-GGUF",
        {"Odd-Q4_K_M.gguf": os.urandom(300_000)},
        gguf={"total": 1_000_000_000, "context_length": 4096},
    )
    hub_client = client(loopback_hub)
    shape = hub_client.file_shape("org/Odd-1B-GGUF", "Odd-Q4_K_M.gguf")

    (found,) = hub_client.search(SearchQuery("Odd", machine=LAPTOP)).next_page()

    assert not shape.exact and shape.file_size == 300_000
    assert found.fit.basis == fit.BASIS_FILE_SIZE
    assert found.fit.label == "Fits in RAM · from its file size"
    assert "Q4_K_M, 300.0 KB, 4,096 tokens" in found.fit.explanation


def test_file_sizes_in_a_listing_are_used_when_given() -> None:
    model = HubModel(
        id="org/Big-1B-GGUF",
        author="org",
        parameters=1_000_000_000,
        quants=("Q4_K_M",),
        size_range=(562_500_000, 562_500_000),
        smallest_file="Big-Q4_K_M.gguf",
        smallest_bytes=30 * 2**30,
        context_length=4096,
    )

    badge = fit.estimate(model, LAPTOP)

    assert (badge.basis, badge.fits, badge.short) == (fit.BASIS_FILE_SIZE, False, "Too large")
    assert badge.label == "Too large · from its file size"
    assert HubModel.from_json(model.to_json()) == model  # kept with the saved results
    assert fit.estimate(HubModel(id="org/Nothing", author="org"), LAPTOP) is None


def test_a_gpu_verdict_reads_as_such() -> None:
    gpu = estimate.Machine(ram_bytes=16 * 2**30, gpu_bytes=(24 * 2**30,), backend="CUDA")
    model = HubModel(
        id="org/M-1B-GGUF",
        author="org",
        parameters=1_000_000_000,
        quants=("Q4_K_M",),
        size_range=(562_500_000, 562_500_000),
    )

    assert fit.estimate(model, gpu).label == "Fits on GPU · from its parameter count"
