"""Making quants with llama.cpp's real quantizer, from the real F16 and Q8_0 ladder files."""

from __future__ import annotations

import threading

import pytest

from app.core.common.errors import QuantizeCancelled, QuantizeError
from app.core.gguf import quant_types
from app.core.gguf.header import read_local_header
from app.core.gguf.info import read_info
from app.core.library import catalog
from app.core.quants.quantize import make_quant, output_name, plan_quant


def test_make_a_q4_k_m_from_f16_joins_the_library(quant_ladder, hearth_home):
    plan = plan_quant(quant_ladder["F16"], "Q4_K_M", hearth_home.models_dir)
    assert plan.warning is None and not plan.requantize
    assert plan.output == hearth_home.models_dir / "quants" / "SmolLM2-135M-Instruct-Q4_K_M.gguf"
    # The estimate is close to what llama.cpp writes (the ladder's own Q4_K_M).
    assert plan.expected_bytes == pytest.approx(quant_ladder["Q4_K_M"].stat().st_size, rel=0.1)
    seen = []
    result = make_quant(plan, progress=lambda done, total, message: seen.append((done, total)))
    assert result.path == plan.output and result.size_bytes == plan.output.stat().st_size
    info = read_info(result.path)
    assert info.quant == "Q4_K_M"
    assert info.parameters == read_local_header(quant_ladder["F16"]).parameters
    assert len(seen) >= 3
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert any(0 < d < t for d, t in seen)  # the file was seen growing
    assert seen[-1][0] == seen[-1][1] == result.size_bytes
    listed = catalog.list_models(hearth_home.models_dir, hearth_home.cache_dir / "no-hf")
    assert [(m.path, m.quant) for m in listed] == [(result.path, "Q4_K_M")]
    with pytest.raises(QuantizeError, match="already exists"):
        plan_quant(quant_ladder["F16"], "Q4_K_M", hearth_home.models_dir)


def test_cancel_removes_the_partial_file(quant_ladder, hearth_home):
    plan = plan_quant(quant_ladder["F16"], "Q3_K_M", hearth_home.models_dir)
    cancel = threading.Event()

    def progress(done, total, message):
        if done > 0:
            cancel.set()

    with pytest.raises(QuantizeCancelled, match="cancelled"):
        make_quant(plan, progress=progress, cancel=cancel, poll_seconds=0.05)
    assert cancel.is_set()
    assert list(plan.output.parent.iterdir()) == []
    assert catalog.list_models(hearth_home.models_dir, hearth_home.cache_dir / "no-hf") == []


def test_requantizing_a_q8_0_warns_and_still_works(quant_ladder, hearth_home):
    plan = plan_quant(quant_ladder["Q8_0"], "Q2_K", hearth_home.models_dir)
    assert plan.requantize
    assert "already quantized (Q8_0)" in plan.warning and "F16" in plan.warning
    assert plan.output.name == "SmolLM2-135M-Instruct-Q2_K-requant.gguf"
    result = make_quant(plan)
    assert result.requantized
    assert quant_types.quant_from_file_type(read_local_header(result.path).file_type) == "Q2_K"


def test_impossible_quants_are_refused_with_a_reason(quant_ladder, hearth_home):
    models = hearth_home.models_dir
    with pytest.raises(QuantizeError, match="Q4_K_M. Quants are made from"):
        plan_quant(quant_ladder["Q4_K_M"], "Q2_K", models)
    with pytest.raises(QuantizeError, match="would not be smaller"):
        plan_quant(quant_ladder["Q8_0"], "Q8_0", models)
    with pytest.raises(QuantizeError, match="cannot make IQ2_XXS"):
        plan_quant(quant_ladder["F16"], "IQ2_XXS", models)


def test_output_names():
    from pathlib import Path

    assert output_name(Path("Llama-3-8B.f16.gguf"), "F16", "Q5_K_M") == "Llama-3-8B.Q5_K_M.gguf"
    assert output_name(Path("model.gguf"), "BF16", "Q4_0") == "model-Q4_0.gguf"
    assert output_name(Path("m-Q8_0.gguf"), "Q8_0", "Q4_K_S") == "m-Q4_K_S-requant.gguf"
