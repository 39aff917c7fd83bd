"""LoRA adapter repos as the Hub lists them, and adapter files as their headers say."""

from __future__ import annotations

from types import SimpleNamespace

from app.core.gguf.header import read_local_header
from app.core.hub.adapters import adapter_from_header, adapter_from_listing, adapter_words
from tests.support.lora import BASE_NAME, make_lora

TAGS = ["gguf", "lora", "base_model:adapter:HuggingFaceTB/SmolLM2-135M-Instruct"]


def test_the_hubs_adapter_tag_names_the_base_model() -> None:
    assert adapter_from_listing(TAGS) == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert adapter_from_listing(["gguf", "base_model:quantized:org/M"]) is None
    card = SimpleNamespace(base_model_relation="adapter", base_model=["org/Base"])
    assert adapter_from_listing(["gguf"], card) == "org/Base"
    assert adapter_from_listing(["gguf"], SimpleNamespace(base_model_relation="adapter")) == ""


def test_what_the_page_calls_an_adapter_repo() -> None:
    assert adapter_words("org/Base") == "LoRA adapter for org/Base"
    assert adapter_words("") == "LoRA adapter (base model unknown)"


def test_an_adapter_file_names_its_base_model_a_model_file_is_none(starter_gguf, tmp_path) -> None:
    adapter = make_lora(starter_gguf, tmp_path / "a.gguf")
    assert adapter_from_header(read_local_header(adapter)) == BASE_NAME
    assert adapter_from_header(read_local_header(starter_gguf)) is None
