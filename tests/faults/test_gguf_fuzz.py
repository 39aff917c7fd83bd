"""A fuzzer of Hearth's own: structure-aware GGUF headers through the check, fit and ls.

Hypothesis writes headers with ``gguf_forge``: the forged model's metadata with its
hyperparameters given random GGUF types (whole numbers, floats with NaN and infinities, text,
arrays, empty arrays), values at and past llama.cpp's edges, a random ``general.type`` and
architecture, and a random tensor list (types, dimensions, counts). Each file goes the way a
user's would: ``check_file``, ``hearth fit``'s shape and plan, ``hearth ls``'s listing. None may
end in a traceback or a hang, and a file the check refuses gets no estimate and is listed with
its problem.

Fixed seed and a bounded count for CI; ``HEARTH_FUZZ_EXAMPLES=5000`` runs a longer campaign.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.common.errors import InvalidModelFile
from app.core.fit import estimate
from app.core.fit.shape import shape_from_file
from app.core.gguf import check
from app.core.library import catalog
from tests.faults import gguf_forge as g
from tests.faults.fuzzing import examples, fuzzed

pytestmark = pytest.mark.faults

EXAMPLES = examples(60)
KEYS = [
    "llama.block_count",
    "llama.context_length",
    "llama.embedding_length",
    "llama.feed_forward_length",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.attention.key_length",
    "llama.expert_count",
    "llama.expert_used_count",
    "llama.rope.freq_base",
    "llama.vocab_size",
    "llama.attention.sliding_window",
    "llama.attention.layer_norm_rms_epsilon",
]
EDGES = [0, 1, 2, 8, 30, 511, 512, 513, 10**8, 2**31 - 1, 2**32 - 1]
INT_TYPES = {
    g.U8: 2**8 - 1,
    g.U16: 2**16 - 1,
    g.U32: 2**32 - 1,
    g.I32: 2**31 - 1,
    g.U64: 2**64 - 1,
    g.I64: 2**63 - 1,
}
MACHINE = estimate.Machine(ram_bytes=8 << 30, gpu_bytes=(4 << 30,), backend="CUDA")


@st.composite
def values(draw):
    """A (GGUF type, value) for a hyperparameter: mostly numbers near the edges."""
    kind = draw(
        st.sampled_from([g.U32, g.U32, g.U64, g.I32, g.U8, g.F32, g.F64, g.STRING, g.BOOL, g.ARRAY])
    )
    if kind in INT_TYPES:
        low = -(INT_TYPES[kind] + 1) if kind in (g.I32, g.I64) else 0
        number = draw(st.sampled_from(EDGES) | st.integers(low, INT_TYPES[kind]))
        return kind, max(low, min(number, INT_TYPES[kind]))
    if kind in (g.F32, g.F64):
        return kind, draw(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e-5, 1e30]))
    if kind == g.STRING:
        return kind, draw(st.sampled_from(["", "30", "NaN", "x" * 100]))
    if kind == g.BOOL:
        return kind, draw(st.booleans())
    item = draw(st.sampled_from([g.U32, g.I32, g.F32, g.STRING]))
    items = draw(st.lists(st.sampled_from([0, 1, 2, 4, 9]), max_size=6))
    return kind, (
        item,
        [str(i) for i in items]
        if item == g.STRING
        else [float(i) for i in items]
        if item == g.F32
        else items,
    )


@st.composite
def tensors(draw):
    count = draw(st.integers(0, 4))
    found = []
    for index in range(count):
        name = draw(
            st.sampled_from(
                [
                    "token_embd.weight",
                    "output_norm.weight",
                    f"blk.{index}.attn_q.weight",
                    "output.weight",
                ]
            )
        )
        dims = draw(st.lists(st.sampled_from([0, 1, 4, 32, 64]), min_size=0, max_size=4))
        ggml_type = draw(st.sampled_from([g.F32_TYPE, g.F16_TYPE, g.Q8_0_TYPE]))
        found.append(g.Tensor(name, tuple(dims), ggml_type))
    return found


@st.composite
def headers(draw) -> bytes:
    kv = g.model_kv()
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=5, unique=True)):
        kv = [item for item in kv if item[0] != key]
        if draw(st.integers(0, 9)):  # sometimes the key is only removed
            kv.append((key, *draw(values())))
    if draw(st.integers(0, 5)) == 0:
        kv.append(("general.type", g.STRING, draw(st.sampled_from(["model", "adapter", "mmproj"]))))
    if draw(st.integers(0, 5)) == 0:
        kv = [item for item in kv if item[0] != "general.architecture"]
        kv.append(
            (
                "general.architecture",
                g.STRING,
                draw(st.sampled_from(["clip", "", "mamba", "gemma3"])),
            )
        )
    chosen = draw(st.one_of(st.just(None), tensors()))
    return g.forge(kv=kv, tensors=chosen)


@fuzzed(EXAMPLES)
@given(data=headers())
def test_forged_headers_never_crash_the_check_fit_or_ls(data, fault_tally):
    with (
        fault_tally.inject("fuzz: a forged GGUF header through check, fit and ls"),
        tempfile.TemporaryDirectory() as folder,
    ):
        path = g.write(Path(folder) / "fuzzed.gguf", data)
        problem = check.problem_of(path)
        assert problem is None or problem.startswith("Hearth refused fuzzed.gguf.")
        if problem is None:
            shape = shape_from_file(path)
            assert 1 <= shape.n_layers <= 512
            result = estimate.plan(shape, MACHINE, min(shape.n_ctx_train, 4096))
            assert result.verdict
        else:
            with pytest.raises(InvalidModelFile):  # no estimate for a refused file
                shape_from_file(path)
        listed = catalog.list_models(
            Path(folder),
            Path(folder) / "no-cache",
            other_apps=False,
            header_cache=catalog.HeaderCache(Path(folder) / "h.json"),
        )
        assert [m.problem for m in listed] == [problem]
