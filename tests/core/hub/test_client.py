"""Hub search and model details through the real huggingface_hub client, against the loopback Hub."""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
from huggingface_hub import get_token

from app.core.common.errors import HubError, HubRepoNotFound, HubUnavailable
from app.core.fit import estimate
from app.core.hub.client import (
    HubClient,
    SearchQuery,
    age,
    model_details,
    parse_repo_ref,
    save_token,
    search_models,
)
from app.core.hub.files import (
    HubModel,
    QuantFile,
    fit_verdicts,
    group_files,
    params_from_name,
    projector_for,
    size_bucket,
)
from tests.support.hub_repos import add_gguf_family, gguf_name, mmproj_name, split_bytes
from tests.support.hub_server import LoopbackHub

DAY = timedelta(days=1)
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def catalog(loopback_hub: LoopbackHub) -> LoopbackHub:
    """Four GGUF repos of different sizes and one that is not GGUF."""
    q = {n: os.urandom(2_000) for n in ("Q2_K", "Q4_K_M", "Q8_0")}
    add_gguf_family(
        loopback_hub,
        "bartowski/Qwen3-4B-GGUF",
        {gguf_name("Qwen3-4B", k): v for k, v in q.items()},
        architecture="qwen3",
        downloads=900,
        likes=10,
        trending_score=5,
        last_modified=iso(NOW - 30 * DAY),
        gguf={"total": 4_022_468_096, "architecture": "qwen3", "context_length": 40960},
    )
    add_gguf_family(
        loopback_hub,
        "unsloth/gemma-2-9b-it-GGUF",
        {gguf_name("gemma-2-9b-it", "Q4_K_M"): q["Q4_K_M"]},
        downloads=500,
        likes=80,
        trending_score=50,
        last_modified=iso(NOW - 2 * DAY),
        gguf={"total": 0, "architecture": "gemma2", "context_length": 8192},
    )
    add_gguf_family(
        loopback_hub,
        "TheBloke/SmolLM2-135M-GGUF",
        {gguf_name("smollm2-135m", "Q8_0", style="dot"): q["Q8_0"]},
        downloads=100,
        likes=300,
        trending_score=1,
        last_modified=iso(NOW - 400 * DAY),
        gguf={"total": 134_515_008, "architecture": "llama", "context_length": 8192},
    )
    add_gguf_family(
        loopback_hub,
        "bigorg/Giant-2000B-GGUF",
        {gguf_name("Giant", "Q2_K"): q["Q2_K"]},
        downloads=50,
        likes=1,
        trending_score=99,
        last_modified=iso(NOW - 10 * DAY),
        gguf={"total": 2_000_000_000_000, "architecture": "deepseek2", "context_length": 163840},
    )
    loopback_hub.add_repo("someone/Qwen3-4B", {"model.safetensors": b"x"}, downloads=10_000)
    return loopback_hub


def client(hub_: LoopbackHub, **kwargs) -> HubClient:
    kwargs.setdefault("sleep", lambda s: None)
    return HubClient(hub_.url, token=False, **kwargs)


def ids(models) -> list[str]:
    return [m.id for m in models]


# -- search -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (
            "downloads",
            [
                "bartowski/Qwen3-4B-GGUF",
                "unsloth/gemma-2-9b-it-GGUF",
                "TheBloke/SmolLM2-135M-GGUF",
                "bigorg/Giant-2000B-GGUF",
            ],
        ),
        (
            "likes",
            [
                "TheBloke/SmolLM2-135M-GGUF",
                "unsloth/gemma-2-9b-it-GGUF",
                "bartowski/Qwen3-4B-GGUF",
                "bigorg/Giant-2000B-GGUF",
            ],
        ),
        (
            "trending",
            [
                "bigorg/Giant-2000B-GGUF",
                "unsloth/gemma-2-9b-it-GGUF",
                "bartowski/Qwen3-4B-GGUF",
                "TheBloke/SmolLM2-135M-GGUF",
            ],
        ),
        (
            "updated",
            [
                "unsloth/gemma-2-9b-it-GGUF",
                "bigorg/Giant-2000B-GGUF",
                "bartowski/Qwen3-4B-GGUF",
                "TheBloke/SmolLM2-135M-GGUF",
            ],
        ),
    ],
)
def test_search_sorts_gguf_repos_only(catalog, sort, expected) -> None:
    assert ids(search_models("", sort=sort, endpoint=catalog.url, token=False)) == expected


def test_a_result_carries_what_discover_shows(catalog) -> None:
    (qwen,) = search_models("qwen3", endpoint=catalog.url, token=False)

    assert (qwen.id, qwen.author, qwen.downloads, qwen.likes) == (
        "bartowski/Qwen3-4B-GGUF",
        "bartowski",
        900,
        10,
    )
    assert qwen.last_modified == NOW - 30 * DAY
    assert (qwen.parameters, qwen.architecture, qwen.context_length) == (
        4_022_468_096,
        "qwen3",
        40960,
    )
    assert qwen.quants == ("Q2_K", "Q4_K_M", "Q8_0")
    low, high = qwen.size_range
    assert 1.2e9 < low < 1.4e9 and 4.2e9 < high < 4.3e9  # 2.625 and 8.5 bits per weight
    assert "gguf" in qwen.tags and qwen.gated is False
    # The Hub's default listing has no author, date, gguf or files: the query asks for them.
    (request,) = catalog.requests_matching("/api/models?")
    assert "expand=gguf" in request.path and "expand=siblings" in request.path
    assert "full=" not in request.path and "filter=gguf" in request.path
    assert HubModel_roundtrip(qwen)


def HubModel_roundtrip(model) -> bool:  # noqa: N802 - reads as a sentence in the assert
    return HubModel.from_json(model.to_json()) == model


def test_pages_are_fetched_one_at_a_time(loopback_hub) -> None:
    for i in range(7):
        add_gguf_family(
            loopback_hub, f"bulk/Model-{i}-GGUF", {gguf_name("M", "Q4_K_M"): b"x"}, downloads=i
        )
    pages = client(loopback_hub).search(SearchQuery("", author="bulk"), page_size=3)

    first = pages.next_page()
    assert ids(first) == ["bulk/Model-6-GGUF", "bulk/Model-5-GGUF", "bulk/Model-4-GGUF"]
    assert len(loopback_hub.requests_matching("/api/models?")) == 1 and not pages.done
    rest = list(pages)
    assert [len(p) for p in rest] == [3, 1] and pages.done
    assert ids(rest[-1]) == ["bulk/Model-0-GGUF"]
    assert len(loopback_hub.requests_matching("/api/models?")) == 3
    assert "author=bulk" in loopback_hub.requests_matching("/api/models?")[0].path
    assert pages.next_page() == []


def test_a_failed_page_can_be_asked_for_again(loopback_hub) -> None:
    for i in range(4):
        add_gguf_family(
            loopback_hub, f"bulk/Model-{i}-GGUF", {gguf_name("M", "Q4_K_M"): b"x"}, downloads=i
        )
    pages = client(loopback_hub, retries=0).search(SearchQuery(""), page_size=2)
    pages.next_page()
    loopback_hub.fail("/api/models", 503)

    with pytest.raises(HubUnavailable, match="having trouble .error 503"):
        pages.next_page()
    assert ids(pages.next_page()) == ["bulk/Model-1-GGUF", "bulk/Model-0-GGUF"]
    assert pages.done


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("≤3B", ["TheBloke/SmolLM2-135M-GGUF"]),
        ("3-8B", ["bartowski/Qwen3-4B-GGUF"]),
        ("8-15B", ["unsloth/gemma-2-9b-it-GGUF"]),  # gguf.total is 0: read from the name
        (">15B", ["bigorg/Giant-2000B-GGUF"]),
    ],
)
def test_size_filter(catalog, size, expected) -> None:
    assert ids(client(catalog).search(SearchQuery("", size=size)).next_page()) == expected


def test_architecture_author_and_fit_filters(catalog) -> None:
    search = client(catalog).search
    assert ids(search(SearchQuery("", architecture="LLAMA")).next_page()) == [
        "TheBloke/SmolLM2-135M-GGUF"
    ]
    assert ids(search(SearchQuery("", author="TheBloke")).next_page()) == [
        "TheBloke/SmolLM2-135M-GGUF"
    ]
    laptop = estimate.Machine(ram_bytes=16 * 2**30)
    assert ids(search(SearchQuery("", machine=laptop)).next_page()) == [
        "bartowski/Qwen3-4B-GGUF",
        "unsloth/gemma-2-9b-it-GGUF",
        "TheBloke/SmolLM2-135M-GGUF",
    ]
    tiny = estimate.Machine(ram_bytes=2 * 2**30)
    assert ids(search(SearchQuery("", machine=tiny)).next_page()) == ["TheBloke/SmolLM2-135M-GGUF"]


def test_filters_look_past_pages_without_matches(loopback_hub) -> None:
    for i in range(6):
        add_gguf_family(
            loopback_hub,
            f"bulk/Big-{i}-70B-GGUF",
            {gguf_name("M", "Q4_K_M"): b"x"},
            downloads=100 + i,
            gguf={"total": 0},
        )
    add_gguf_family(
        loopback_hub, "bulk/Small-1B-GGUF", {gguf_name("M", "Q4_K_M"): b"x"}, gguf={"total": 0}
    )
    pages = client(loopback_hub).search(SearchQuery("", size="≤3B"), page_size=2)

    assert ids(pages.next_page()) == ["bulk/Small-1B-GGUF"]
    assert pages.done and pages.pages_fetched == 4


@pytest.mark.parametrize(
    "text",
    [
        "unsloth/gemma-2-9b-it-GGUF",
        "https://huggingface.co/unsloth/gemma-2-9b-it-GGUF",
        "https://huggingface.co/unsloth/gemma-2-9b-it-GGUF/blob/main/README.md",
        "huggingface.co/models/unsloth/gemma-2-9b-it-GGUF/",
    ],
)
def test_a_repo_name_or_link_finds_that_repo(catalog, text) -> None:
    pages = client(catalog).search(SearchQuery(text))
    (found,) = pages.next_page()
    assert found.id == "unsloth/gemma-2-9b-it-GGUF" and found.architecture == "gemma2"
    assert pages.done and found.downloads == 500 and found.author == "unsloth"


def test_repo_refs() -> None:
    assert parse_repo_ref("llama 3") is None and parse_repo_ref("qwen") is None
    assert parse_repo_ref("https://example.com/a/b") is None
    assert parse_repo_ref("http://127.0.0.1:9/a/b", "http://127.0.0.1:9") == "a/b"
    with pytest.raises(HubError, match="datasets, not to a model"):
        parse_repo_ref("https://huggingface.co/datasets/a/b")


def test_an_unknown_owner_name_falls_back_to_words(catalog) -> None:
    assert ids(client(catalog).search(SearchQuery("bartowski/Qwen3")).next_page()) == [
        "bartowski/Qwen3-4B-GGUF"
    ]


def test_endpoint_is_read_when_asked_not_at_import(catalog, monkeypatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", catalog.url)
    assert HubClient().endpoint == catalog.url
    assert len(search_models("Giant")) == 1


# -- errors -----------------------------------------------------------------------------------------


def test_server_errors_are_retried_then_explained(catalog) -> None:
    catalog.fail("/api/models", 500)
    assert len(client(catalog, retries=1).search(SearchQuery("qwen")).next_page()) == 1

    catalog.fail("/api/models", 503, count=None)
    with pytest.raises(HubUnavailable) as caught:
        client(catalog, retries=2).search(SearchQuery("qwen")).next_page()
    assert "Try again in a moment" in str(caught.value)
    assert len(catalog.requests_matching("/api/models?")) == 2 + 3


def test_rate_limits_and_bad_requests(catalog) -> None:
    catalog.fail("/api/models", 429, count=None)
    with pytest.raises(HubUnavailable, match="too many requests"):
        client(catalog, retries=0).search(SearchQuery("")).next_page()
    catalog.clear_faults()
    with pytest.raises(HubError, match="Unknown sort"):
        client(catalog).search(SearchQuery("", sort="stars"))


def test_an_unreachable_hub_says_so() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HubUnavailable, match="Could not reach the Hugging Face Hub"):
        HubClient(f"http://127.0.0.1:{port}", token=False, retries=0).search(
            SearchQuery("x")
        ).next_page()


def test_a_missing_repo(catalog) -> None:
    with pytest.raises(HubRepoNotFound, match="no model called 'nobody/nothing'"):
        model_details("nobody/nothing", endpoint=catalog.url, token=False)
    with pytest.raises(HubError, match="not a Hub model name"):
        model_details("just words", endpoint=catalog.url, token=False)


# -- model details ----------------------------------------------------------------------------------


def test_model_details_group_files_by_quant(loopback_hub) -> None:
    q8 = os.urandom(9_000)
    files = {
        gguf_name("Vis", "Q4_K_M"): os.urandom(4_000),
        gguf_name("Vis", "Q2_K"): os.urandom(2_500),
        **dict(
            zip(
                [gguf_name("Vis", "Q8_0", part=i, parts=3) for i in (1, 2, 3)],
                split_bytes(q8, 3),
                strict=True,
            )
        ),
        mmproj_name("Vis"): os.urandom(1_000),
        "Vis.safetensors": b"not for llama.cpp",
    }
    card = (
        "---\nlicense: apache-2.0\nbase_model: org/Vis\ntags:\n- gguf\n---\n\n# Vis\n\n"
        "A **vision** model.\n"
    )
    loopback_hub.add_repo(
        "org/Vis-GGUF",
        {**files, "README.md": card.encode()},
        downloads=3,
        gguf={"total": 7_615_616_512, "architecture": "qwen2vl", "context_length": 32768},
    )

    details = model_details(
        "https://huggingface.co/org/Vis-GGUF", endpoint=loopback_hub.url, token=False
    )

    assert details.card.startswith("# Vis") and "**vision**" in details.card
    assert (details.license, details.base_model, details.gated) == ("apache-2.0", "org/Vis", False)
    assert (details.model.parameters, details.model.architecture, details.model.context_length) == (
        7_615_616_512,
        "qwen2vl",
        32768,
    )
    assert [(f.quant, f.parts, f.size_bytes) for f in details.files] == [
        ("Q2_K", 1, 2_500),
        ("Q4_K_M", 1, 4_000),
        ("Q8_0", 3, 9_000),
    ]
    split = details.files[-1]
    assert split.name == "Vis-Q8_0-00001-of-00003.gguf" and split.label == "Vis-Q8_0.gguf"
    assert split.files[-1] == "Vis-Q8_0-00003-of-00003.gguf" and split.complete
    assert [(p.name, p.quant) for p in details.projectors] == [("mmproj-Vis-f16.gguf", "F16")]


def test_a_gated_repo_is_described_without_its_files(loopback_hub) -> None:
    add_gguf_family(
        loopback_hub, "meta/Gated-GGUF", {gguf_name("G", "Q4_K_M"): b"x"}, gated="manual"
    )
    details = model_details("meta/Gated-GGUF", endpoint=loopback_hub.url, token=False)
    assert details.gated == "manual" and details.card == ""
    assert "could not be loaded" in details.card_note and len(details.files) == 1


def test_one_projector_goes_with_a_model_the_f16_else_bf16_else_the_smallest() -> None:
    def chosen(*files: tuple[str, int]) -> str | None:
        found = projector_for(group_files(files)[1])
        return found.name if found else None

    q8, f16, bf16 = ("mmproj-M-Q8_0.gguf", 5), ("mmproj-M-f16.gguf", 9), ("mmproj-M-BF16.gguf", 9)
    assert chosen(("M-Q4_K_M.gguf", 3)) is None
    assert chosen(q8, bf16, f16, ("mmproj-M-f32.gguf", 20)) == "mmproj-M-f16.gguf"
    assert chosen(q8, bf16, ("mmproj-M-f32.gguf", 20)) == "mmproj-M-BF16.gguf"
    assert chosen(("mmproj-M-f32.gguf", 20), q8) == "mmproj-M-Q8_0.gguf"
    assert chosen(("sub/mmproj-model-F16.gguf", 9), q8) == "sub/mmproj-model-F16.gguf"


def test_file_grouping_rules() -> None:
    models, projectors = group_files(
        [
            ("a/M-Q4_K_M-00002-of-00002.gguf", 5),
            ("a/M-Q4_K_M-00001-of-00002.gguf", 7),
            ("M-IQ2_XS.gguf", 3),
            ("model.gguf", 1),
            ("M-Q5_K_M-00001-of-00003.gguf", 4),
            ("config.json", 9),
            ("gemma-3-4b-mmproj-BF16.gguf", 2),
            ("M.Q8_0.gguf.part1of2", 9),
        ]
    )
    assert [(m.name, m.quant, m.size_bytes, m.complete) for m in models] == [
        ("model.gguf", None, 1, True),
        ("M-IQ2_XS.gguf", "IQ2_XS", 3, True),
        ("M-Q5_K_M-00001-of-00003.gguf", "Q5_K_M", 4, False),
        ("a/M-Q4_K_M-00001-of-00002.gguf", "Q4_K_M", 12, True),
    ]
    assert [(p.name, p.quant) for p in projectors] == [("gemma-3-4b-mmproj-BF16.gguf", "BF16")]
    assert QuantFile("x", None, ("x",), 1).to_json()["parts"] == 1


def test_parameters_from_names() -> None:
    assert params_from_name("Meta-Llama-3.1-8B-Instruct-GGUF") == 8_000_000_000
    assert params_from_name("SmolLM2-135M-Instruct") == 135_000_000
    assert params_from_name("Mixtral-8x7B-v0.1") == 56_000_000_000
    assert params_from_name("Qwen3-30B-A3B") == 30_000_000_000
    assert params_from_name("Qwen2.5-1.5B") == 1_500_000_000
    assert params_from_name("phi-4-GGUF") is None
    assert [size_bucket(p) for p in (None, 3e9, 7.6e9, 14.8e9, 32e9)] == [
        None,
        "≤3B",
        "3-8B",
        "8-15B",
        ">15B",
    ]


def test_fit_verdicts_grow_with_the_file() -> None:
    entries = [
        QuantFile(f"m{i}", None, (f"m{i}",), size)
        for i, size in enumerate((1 * 10**9, 6 * 10**9, 60 * 10**9))
    ]
    verdicts = fit_verdicts(entries, estimate.Machine(ram_bytes=16 * 2**30))
    assert list(verdicts.values()) == [
        estimate.VERDICT_CPU,
        estimate.VERDICT_CPU,
        estimate.VERDICT_TOO_LARGE,
    ]
    gpu = estimate.Machine(ram_bytes=16 * 2**30, gpu_bytes=(4 * 2**30,), backend="CUDA")
    verdicts = fit_verdicts(entries, gpu)
    assert verdicts["m0"] == estimate.VERDICT_FULL and verdicts["m1"].startswith("Partial: ")


def test_ages() -> None:
    assert age(NOW - 3 * DAY, NOW) == "3 days ago"
    assert age(NOW - 400 * DAY, NOW) == "1 year ago"
    assert age(None) == "" and age(NOW, NOW) == "just now"


# -- token ------------------------------------------------------------------------------------------


def test_a_token_the_hub_accepts_is_stored_where_huggingface_hub_reads_it(
    loopback_hub, hearth_home, tmp_path, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "hf_" + "s3cr3t" * 6
    loopback_hub.valid_tokens.add(secret)
    loopback_hub.token_users[secret] = "ada"
    loopback_hub.token_names[secret] = "laptop"

    message = save_token(f"  {secret}\n", endpoint=loopback_hub.url)

    assert message == ("Token saved for the Hugging Face tools on this computer. Signed in as ada.")
    assert get_token() == secret
    assert "laptop" in (tmp_path / "hf" / "stored_tokens").read_text()
    (whoami,) = loopback_hub.requests_matching("/api/whoami-v2")
    assert whoami.headers["authorization"] == f"Bearer {secret}"  # checked with the Hub first
    assert secret not in caplog.text and secret not in message


def test_a_token_the_hub_refuses_is_not_stored(loopback_hub, hearth_home, tmp_path) -> None:
    loopback_hub.valid_tokens.add("hf_TheRightOne1234")

    with pytest.raises(HubError, match="not valid") as refused:
        save_token("hf_AWrongOne98765", endpoint=loopback_hub.url)

    assert "huggingface.co/settings/tokens" in str(refused.value)
    assert get_token() is None and not (tmp_path / "hf" / "token").exists()
    with pytest.raises(HubError, match="without spaces"):
        save_token("hf_abc def")


def test_a_token_that_cannot_be_checked_is_not_stored(loopback_hub, hearth_home, tmp_path) -> None:
    loopback_hub.valid_tokens.add("hf_TheRightOne1234")
    loopback_hub.fail("/api/whoami-v2", status=503)

    with pytest.raises(HubUnavailable, match="could not be checked, so it was not saved"):
        save_token("hf_TheRightOne1234", endpoint=loopback_hub.url)

    assert get_token() is None
    assert "Signed in as" in save_token("hf_TheRightOne1234", endpoint=loopback_hub.url)
