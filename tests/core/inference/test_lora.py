"""LoRA adapters on the real starter model, with adapters written by tests/support/lora.py
(random low-rank weights: what they do to the answer is not judged, only that they act)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.common.errors import ModelLoadError
from app.core.common.paths import hf_hub_cache
from app.core.config.limits import InvalidValue
from app.core.gguf.adapter import adapter_info, is_adapter
from app.core.gguf.header import read_local_header
from app.core.inference.engine import Engine
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.types import LoadOptions
from app.core.library.catalog import HeaderCache, list_models
from tests.support.lora import BASE_NAME, make_lora

PROMPT = b"The capital of France is"


def next_token_logits(starter: Path, **options: object) -> np.ndarray:
    import llama_cpp

    engine = Engine()
    engine.load(starter, LoadOptions(n_ctx=256, **options))  # type: ignore[arg-type]
    try:
        llm = engine._llm
        assert llm is not None
        llm.eval(llm.tokenize(PROMPT))
        return np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)
        ).copy()
    finally:
        engine.unload()


def test_an_adapter_changes_the_logits_and_at_strength_0_gives_the_base_models(
    starter_gguf, tmp_path
):
    adapter = str(make_lora(starter_gguf, tmp_path / "adapter.gguf"))
    base = next_token_logits(starter_gguf)
    applied = next_token_logits(starter_gguf, lora_path=adapter)
    off = next_token_logits(starter_gguf, lora_path=adapter, lora_scale=0.0)
    assert np.abs(applied - base).max() > 1.0
    assert np.array_equal(off, base)


def test_an_adapter_says_what_it_is_and_its_base(starter_gguf, tmp_path):
    header = read_local_header(make_lora(starter_gguf, tmp_path / "adapter.gguf"))
    assert is_adapter(header) and not is_adapter(read_local_header(starter_gguf))
    info = adapter_info(header)
    assert (info.architecture, info.alpha, info.base_model) == ("llama", 8.0, BASE_NAME)


def test_an_adapter_is_not_listed_as_a_model(hearth_home, starter_gguf, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / starter_gguf.name).symlink_to(starter_gguf)
    make_lora(starter_gguf, folder / "SmolLM2-135M-lora.gguf")
    listed = list_models(
        hearth_home.models_dir,
        hf_hub_cache(),
        [folder],
        other_apps=False,
        header_cache=HeaderCache(hearth_home.cache_dir / "headers.json"),
    )
    assert [m.path.name for m in listed] == [starter_gguf.name]


@pytest.mark.parametrize("where", ["engine", "host"])
def test_an_adapter_made_for_another_model_is_refused_in_one_sentence(
    starter_gguf, tmp_path, where
):
    """llama.cpp itself ends the process on this adapter (a segmentation fault)."""
    adapter = make_lora(starter_gguf, tmp_path / "wide.gguf", width=640)
    engine = Engine() if where == "engine" else HostedEngine()
    try:
        with pytest.raises(ModelLoadError) as refused:
            engine.load(starter_gguf, LoadOptions(n_ctx=256, lora_path=str(adapter)))
    finally:
        engine.unload()
    assert str(refused.value) == (
        f"The adapter wide.gguf does not fit {starter_gguf.name}: it was made for another model "
        "(its blk.0.attn_q.weight is 640 by 576, this model's 576 by 576)."
    )


def test_a_model_given_as_an_adapter_is_refused(starter_gguf):
    engine = Engine()
    with pytest.raises(ModelLoadError, match=r"^\S+ is not a LoRA adapter\.$"):
        engine.load(starter_gguf, LoadOptions(n_ctx=256, lora_path=str(starter_gguf)))


@pytest.mark.parametrize("strength", [-0.5, 2.5, float("nan")])
def test_a_strength_out_of_range_is_refused(strength):
    with pytest.raises(InvalidValue, match="^The adapter's strength must be"):
        LoadOptions(lora_scale=strength)
