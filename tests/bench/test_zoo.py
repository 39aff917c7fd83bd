"""The model zoo: every architecture's tiny model passes Hearth's check, loads in the real
llama.cpp through Hearth's engine and generates tokens; its header says what it was made as."""

from __future__ import annotations

import pytest

from app.bench.zoo import ARCH_NAMES, SIZES, VERSION
from app.core.fit.shape import shape_from_file
from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions, SamplingOptions


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_each_zoo_model_loads_and_generates(zoo_models, arch):
    engine = Engine()
    engine.load(zoo_models[arch], LoadOptions(n_ctx=256, n_gpu_layers=0, n_threads=1))
    try:
        pieces: list[str] = []
        stats = engine.complete(
            "Once upon a time",
            SamplingOptions(temperature=0.0, max_tokens=6, seed=1),
            pieces.append,
        )
    finally:
        engine.unload()
    assert stats.tokens == 6 and stats.stop_reason == "length"
    assert "".join(pieces)


def test_zoo_headers_name_the_architecture_and_its_features(zoo_models):
    shapes = {arch: shape_from_file(path) for arch, path in zoo_models.items()}
    dims = SIZES["tiny"]
    assert {a: s.architecture for a, s in shapes.items()} == {a: a for a in ARCH_NAMES}
    assert all(s.n_layers == dims.n_layer and s.quant == "Q8_0" for s in shapes.values())
    assert all(s.n_vocab == 49152 for s in shapes.values())  # the starter's tokenizer
    assert shapes["qwen3moe"].expert_count == dims.n_expert
    assert not shapes["deepseek2"].has_v_cache  # MLA keeps only the compressed K
    assert any(shapes["gemma3"].swa_layers) and not all(shapes["gemma3"].swa_layers)
    assert shapes["granitehybrid"].recurrent_bytes > 0
    assert 0 in shapes["granitehybrid"].n_head_kv
    assert all(p.parent.name == VERSION for p in zoo_models.values())
