"""LoRA adapters whose metadata is forged or damaged: on the Hub, in its listing, and on disk.

Hypothesis draws an adapter's header (``gguf_forge``): each of the keys Hearth reads about an
adapter (``general.type``, ``adapter.type``, ``adapter.lora.alpha``, the base model's name and
address, ``general.basename``, ``general.architecture``) missing, or of any type (text with
line breaks and control characters, 5,000 characters, numbers, NaN, a list), and a listing's
``tags`` holding anything. The real huggingface_hub client reads it from the loopback Hub
(``read_hub_adapter``: the header by Range requests; ``HubClient.details``: the listing), and
the library scan lists it from a models folder for Chat's adapter chooser, whose menu is filled.
For every draw: nothing but a typed error escapes, and every name shown is one printable line
of bounded length. Each draw counts as one injected fault in the faults summary line.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from app.core.common.errors import HearthError, ModelLoadError
from app.core.gguf.adapter import MAX_SHOWN
from app.core.hub.adapters import adapter_words, read_hub_adapter
from app.core.hub.client import HubClient
from app.core.library.catalog import HeaderCache, list_models
from app.ui.chat.adapter_chooser import NONE, OTHER, AdapterChooser, adapter_label
from tests.faults.fuzzing import examples, fuzzed
from tests.faults.gguf_forge import ARRAY, BOOL, F32, I64, STRING, U32, Tensor, forge
from tests.faults.tally import CrashDetected, Tally
from tests.support.hub_repos import add_gguf_family

pytestmark = pytest.mark.faults

EXAMPLES = examples(25)
_repos = itertools.count(1)

texts = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="\n\r\t\x00\x1b\u202e ab", max_size=12),
    st.just("x" * 5000),
    st.just("https://huggingface.co/org/" + "\n" * 3 + "Base"),
)
values = st.one_of(
    texts.map(lambda t: (STRING, t)),
    st.integers(0, 2**32 - 1).map(lambda n: (U32, n)),
    st.integers(-(2**63), 2**63 - 1).map(lambda n: (I64, n)),
    st.floats(width=32).map(lambda f: (F32, f)),
    st.booleans().map(lambda b: (BOOL, b)),
    st.lists(st.text(max_size=8), max_size=3).map(lambda items: (ARRAY, (STRING, items))),
)
KEYS = {  # the keys read about an adapter, each with its usual value
    "general.architecture": (STRING, "llama"),
    "general.type": (STRING, "adapter"),
    "adapter.type": (STRING, "lora"),
    "adapter.lora.alpha": (F32, 8.0),
    "general.base_model.0.name": (STRING, "SmolLM2 135M Instruct"),
    "general.base_model.0.repo_url": (STRING, "https://huggingface.co/HuggingFaceTB/SmolLM2"),
    "general.basename": (STRING, "SmolLM2"),
}
headers = st.dictionaries(
    st.sampled_from(sorted(KEYS)), st.one_of(st.none(), values), max_size=len(KEYS)
)
tags = st.lists(
    st.one_of(
        st.sampled_from(["gguf", "lora", "base_model:adapter:org/Base"]),
        texts.map(lambda t: "base_model:adapter:" + t),
        st.integers(),
        st.none(),
    ),
    max_size=4,
)


def adapter_bytes(changes: dict[str, tuple | None]) -> bytes:
    """An adapter's GGUF: the usual keys, each changed (a value) or left out (None)."""
    fields = {**KEYS, **changes}
    kv = [(key, kind, value) for key, field in fields.items() if field for kind, value in [field]]
    tensors = [
        Tensor("blk.0.attn_q.weight.lora_a", (64, 8)),
        Tensor("blk.0.attn_q.weight.lora_b", (8, 64)),
    ]
    return forge(kv=kv, tensors=tensors)


def assert_shown(text: str) -> None:
    """One printable line a label or a menu can show."""
    assert isinstance(text, str), text
    assert text.isprintable(), repr(text[:80])
    assert len(text) <= MAX_SHOWN + 60, len(text)  # the name, and the words around it


def test_forged_adapter_headers_never_break_the_hub_page(
    loopback_hub, plain_http_client, faults: Tally
):
    client = HubClient(loopback_hub.url, token=False, retries=0)

    @fuzzed(EXAMPLES, HealthCheck.function_scoped_fixture)
    @given(changes=headers, listed=tags)
    def one_case(changes: dict[str, tuple | None], listed: list) -> None:
        repo = f"forger/Adapter-{next(_repos)}-GGUF"
        add_gguf_family(loopback_hub, repo, {"adapter.gguf": adapter_bytes(changes)}, tags=listed)
        with faults.inject(f"Hub adapter header {changes}, tags {listed}"):
            try:
                base = read_hub_adapter(
                    repo, "adapter.gguf", endpoint=loopback_hub.url, token=False
                )
                details = client.details(repo)
            except HearthError as exc:  # the Hub could not be read: said
                assert "\n" not in str(exc)
                return
            except Exception as exc:
                raise CrashDetected(f"{type(exc).__name__} escaped: {exc}") from exc
            for named in (base, details.adapter_of, details.model.adapter_of):
                if named is not None:
                    assert_shown(adapter_words(named))

    one_case()


def test_forged_adapters_on_disk_are_listed_for_chats_chooser(qapp, faults: Tally):
    @fuzzed(EXAMPLES)
    @given(changes=headers)
    def one_case(changes: dict[str, tuple | None]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            models = Path(folder) / "models"
            models.mkdir()
            (models / "adapter.gguf").write_bytes(adapter_bytes(changes))
            with faults.inject(f"adapter file header {changes}"):
                try:
                    found = list_models(
                        models,
                        Path(folder) / "hf-cache",
                        other_apps=False,
                        header_cache=HeaderCache(Path(folder) / "headers.json"),
                        adapters=True,
                    )
                    chooser = AdapterChooser(lambda: [m for m in found if m.adapter_of is not None])
                    chooser.fill()
                except Exception as exc:
                    raise CrashDetected(f"{type(exc).__name__} escaped: {exc}") from exc
                shown = [a.text() for a in chooser.menu().actions() if not a.isSeparator()]
                assert shown[0] == NONE and shown[-1] == OTHER
                for adapter in found:
                    if adapter.adapter_of is not None:
                        assert adapter_label(adapter) in shown
                for text in shown:
                    assert_shown(text)
                chooser.deleteLater()

    one_case()


shapes = st.lists(
    st.tuples(
        st.sampled_from(
            ["blk.0.attn_q.weight", "blk.0.attn_v.weight", "blk.99.ffn_up.weight", "x"]
        ),
        st.sampled_from(["lora_a", "lora_b"]),
        st.lists(st.sampled_from([0, 1, 8, 64, 576, 2**20]), min_size=1, max_size=3),
    ),
    max_size=4,
)


def test_forged_adapters_chosen_for_a_model_fit_or_are_refused_in_one_sentence(
    starter_gguf, faults: Tally
):
    """What Chat's chooser hands to the load: checked against the real starter model's header
    before llama.cpp reads it (llama.cpp ends the process on a mismatch)."""
    from app.core.gguf.adapter import check_fits

    @fuzzed(EXAMPLES)
    @given(changes=headers, parts=shapes)
    def one_case(changes: dict[str, tuple | None], parts: list[tuple]) -> None:
        fields = {**KEYS, "general.base_model.0.name": None, **changes}
        kv = [
            (key, kind, value) for key, field in fields.items() if field for kind, value in [field]
        ]
        tensors = [Tensor(f"{name}.{half}", tuple(shape)) for name, half, shape in parts]
        needed = sum(t.nbytes for t in tensors)
        cut = 4096 if needed > 1 << 22 else None  # a forged huge tensor: its data cut short
        with tempfile.TemporaryDirectory() as folder:
            adapter = Path(folder) / "forged-lora.gguf"
            adapter.write_bytes(forge(kv=kv, tensors=tensors, data_size=cut))
            with faults.inject(f"adapter chosen for a model: {changes}, tensors {parts}"):
                try:
                    info = check_fits(adapter, starter_gguf)
                except ModelLoadError as exc:
                    said = str(exc)
                    assert adapter.name in said and said.isprintable(), said
                    assert len(said) < 500, said
                    return
                except Exception as exc:
                    raise CrashDetected(f"{type(exc).__name__} escaped: {exc}") from exc
                assert_shown(info.base_model) and math.isfinite(info.alpha)

    one_case()


def test_a_header_alpha_of_nan_reads_as_no_alpha():
    from app.core.gguf.adapter import adapter_info
    from app.core.gguf.header import read_local_header

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.gguf"
        path.write_bytes(adapter_bytes({"adapter.lora.alpha": (F32, math.nan)}))
        assert adapter_info(read_local_header(path)).alpha == 0.0
