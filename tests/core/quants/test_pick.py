"""The quant picker's rows and recommendation, on the real quant ladder and published figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.fit import estimate
from app.core.gguf import quant_types
from app.core.hub.files import group_files
from app.core.library import catalog
from app.core.measure.measurement import MeasureSettings, measure
from app.core.measure.store import MeasureStore, measurements_db
from app.core.quants import explain
from app.core.quants.pick import CPU, FULL, PARTIAL, TOO_LARGE, context_choices, pick, rows
from app.core.quants.sources import family, hub_items, local_items

MIB = 2**20
LADDER = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"]


@pytest.fixture
def models(quant_ladder, tmp_path) -> list[catalog.LocalModel]:
    folder = Path(next(iter(quant_ladder.values()))).parent
    return catalog.list_models(
        folder,
        tmp_path / "no-hf-cache",
        [],
        home=tmp_path / "home",
        environ={},
        header_cache=catalog.HeaderCache(tmp_path / "h.json"),
    )


def picked(items, machine, n_ctx) -> str | None:
    table = rows(items, machine, n_ctx)
    choice = pick(table, machine, n_ctx)
    return next((r.quant for r in table if r.key == choice.key), None)


def test_ladder_rows_are_sorted_by_size_with_real_figures(models) -> None:
    items = local_items(models[0], models)
    table = rows(items, estimate.Machine(ram_bytes=4 * 2**30), 2048)
    assert [r.quant for r in table] == LADDER
    assert [r.size_bytes for r in table] == sorted(r.size_bytes for r in table)
    by_quant = {r.quant: r for r in table}
    # llama.cpp's published mean KLD on Llama-3-8B, typical until the user measures
    assert by_quant["Q4_K_M"].quality.kld == 0.03127
    assert by_quant["Q2_K"].quality.kld == 0.44513
    assert by_quant["Q4_K_M"].quality.label == "typical for this type"
    assert "PR #6936" in by_quant["Q8_0"].quality.note
    # bits per weight of the real files: size x 8 / 134,515,008 parameters
    assert by_quant["F16"].bits == pytest.approx(270885952 * 8 / 134515008)
    assert (
        by_quant["Q4_K_M"].explanation == "Q4_K_M: usually close to the original; the usual choice."
    )


def test_recommended_is_the_best_that_fits_in_ram_and_moves_with_context_and_memory(models):
    items = local_items(models[0], models)
    roomy, tight = estimate.Machine(ram_bytes=600 * MIB), estimate.Machine(ram_bytes=300 * MIB)
    assert picked(items, roomy, 2048) == "F16"
    assert picked(items, roomy, 8192) == "Q8_0"  # F16 leaves no room for 8k tokens
    assert picked(items, tight, 2048) == "Q8_0"
    choice = pick(rows(items, tight, 2048), tight, 2048)
    assert choice.fully and "fits in your RAM with room for 2,048 tokens" in choice.reason
    assert "no usable GPU" in choice.reason
    none = pick(rows(items, tight, 8192), tight, 8192)
    assert none.key is None and "None of these fits" in none.reason


def test_on_a_gpu_full_offload_wins_over_a_larger_partial_one(models) -> None:
    # A GPU cannot exist here: its free memory is given, as NVML would report it.
    items = local_items(models[0], models)
    gpu = estimate.Machine(ram_bytes=8 * 2**30, gpu_bytes=(800 * MIB,), backend="CUDA")
    table = rows(items, gpu, 4096)
    placements = {r.quant: r.placement for r in table}
    assert placements["Q8_0"] == FULL and placements["F16"] == PARTIAL
    choice = pick(table, gpu, 4096)
    assert picked(items, gpu, 4096) == "Q8_0" and "runs fully on your GPU" in choice.reason
    small = estimate.Machine(ram_bytes=8 * 2**30, gpu_bytes=(600 * MIB,), backend="CUDA")
    choice = pick(rows(items, small, 4096), small, 4096)
    assert not choice.fully and "none fits fully on your GPU" in choice.reason
    assert picked(items, small, 4096) == "F16"  # best of the partial ones, said to be slower


def test_measured_quality_replaces_typical(models, quant_ladder, hearth_home) -> None:
    store = MeasureStore(measurements_db(hearth_home.data_dir))
    settings = MeasureSettings(tokens=128, n_batch=128, gen_tokens=2, gen_prompt=8, threads=1)
    measure([quant_ladder["F16"], quant_ladder["Q2_K"]], store=store, settings=settings)
    table = {
        r.quant: r
        for r in rows(
            local_items(models[0], models, store), estimate.Machine(ram_bytes=2**30), 2048
        )
    }
    assert table["Q2_K"].quality.kind == explain.MEASURED
    assert table["Q2_K"].quality.label == "measured by you"
    assert table["Q2_K"].quality.kld > 0.01 and table["Q2_K"].quality.kld != 0.44513
    assert "SmolLM2-135M-Instruct-F16.gguf" in table["Q2_K"].quality.note
    assert table["F16"].quality.kld == 0 and table["F16"].quality.kind == explain.MEASURED
    assert table["Q4_K_M"].quality.kind == explain.TYPICAL


def test_family_keeps_only_quants_of_the_same_model(models, starter_gguf, tmp_path) -> None:
    other = catalog.LocalModel(
        "Other-7B",
        tmp_path / "o.gguf",
        "Q4_K_M",
        1,
        "folder",
        architecture="llama",
        parameters=7_000_000_000,
    )
    starter = catalog.LocalModel(
        "starter",
        starter_gguf,
        "Q4_1",
        starter_gguf.stat().st_size,
        "starter",
        architecture="llama",
        parameters=134515008,
    )
    everything = [*models, other, starter]
    assert {m.quant for m in family(models[0], everything)} == {*LADDER, "Q4_1"}
    assert family(other, everything) == [other]
    assert "Q4_1" in [i.quant for i in local_items(models[0], everything)]


def test_hub_files_with_a_shape_read_from_one_file(quant_ladder) -> None:
    from app.core.fit.shape import shape_from_file

    files, _ = group_files((Path(p).name, Path(p).stat().st_size) for p in quant_ladder.values())
    shape = shape_from_file(quant_ladder["Q2_K"])
    items = hub_items(files, shape, parameters=134515008)
    assert [i.quant for i in items] == LADDER and items[0].shape.exact
    assert not items[-1].shape.exact and items[-1].shape.n_layers == shape.n_layers
    assert picked(items, estimate.Machine(ram_bytes=300 * MIB), 2048) == "Q8_0"


def test_every_common_type_has_a_plain_explanation() -> None:
    for name in quant_types.BITS_PER_WEIGHT:
        line = explain.explain(name)
        assert (
            line.startswith(f"{name}: ") and "bits per weight" not in line
        )  # bits_words says them
        assert explain.bits_words(name).startswith(f"{name} usually ")
    assert explain.explain("IQ4_XS") == (
        "IQ4_XS: a newer 4-bit format, nearly as good as Q4_K_M and smaller."
    )
    assert explain.explain("TQ1_0", 1.7) == "TQ1_0: very lossy."
    assert "not known" in explain.explain(None)


def test_types_without_a_published_figure_get_an_estimate_between_neighbours() -> None:
    iq4 = explain.typical_quality("IQ4_XS")
    assert iq4.kind == explain.ESTIMATE and "No published figure for IQ4_XS" in iq4.note
    assert 0.03127 < iq4.kld < 0.10191  # between its published neighbours, Q4_K_M and Q3_K_M
    assert explain.typical_quality("IQ1_S").kld > 0.44513
    assert explain.typical_quality("BF16").kld == 0
    assert explain.typical_quality("XYZ") is None


def test_quality_bar_and_words() -> None:
    assert explain.quality_score(0) == 1
    assert explain.quality_score(0.03127) == pytest.approx(0.502, abs=0.01)
    assert explain.quality_score(1.0) == 0
    assert explain.quality_words(0.44513) == "much lower"
    assert explain.quality_words(0.03127) == "close to the original"


def test_context_choices_stop_at_the_model_own() -> None:
    assert context_choices(8192) == [2048, 4096, 8192]
    assert context_choices(40960) == [2048, 4096, 8192, 16384, 32768, 40960]
    assert context_choices(None) == [2048, 4096, 8192]


def test_placement_names() -> None:
    from app.core.quants.pick import placement

    assert placement(estimate.VERDICT_FULL) == FULL and placement(estimate.VERDICT_CPU) == CPU
    assert placement("Partial: 3 of 31 layers on GPU") == PARTIAL
    assert placement(estimate.VERDICT_TOO_LARGE) == TOO_LARGE
