"""Measuring the real quant ladder of the starter model: the physics, the store, cancel, texts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.core.common.errors import MeasureCancelled, MeasureError, ModelFileError
from app.core.gguf.header import read_local_header
from app.core.measure.kld import ReferenceLogits, Scorer, log_softmax
from app.core.measure.measurement import (
    MeasureSettings,
    MeasureText,
    check_same_model,
    measure,
    stored_measurement,
)
from app.core.measure.store import MeasureStore, measurements_db
from tests.support.gguf_files import write_other_model

# Fewer tokens than the benchmark's 768, one thread: tests share two cores with other work.
FAST = MeasureSettings(tokens=256, n_batch=128, gen_tokens=4, threads=1)
SUBSET = ("F16", "Q8_0", "Q4_K_M", "Q2_K")

USER_TEXT = """\
Dear Sam, thank you for the seeds. I planted the beans along the south fence, where the wall
keeps the wind off them, and the tomatoes in the raised bed by the shed. The soil there is
still heavy after the winter, so I dug in two barrows of compost first. The peas you sent last
year did well until the pigeons found them; this year I have put a net over the frame.
The apple tree has more blossom than I have ever seen on it. If the frost holds off for another
two weeks we should have a good crop, and I will send you a box in October as I promised.
My neighbour has offered to lend me his ladder for the picking, which is kind of him, since the
old one broke last autumn when I leaned it against the pear tree and it slid on the wet grass.
Write soon and tell me how the new greenhouse is coming along. Did the glass arrive in one
piece this time, or did the carrier drop it again?
"""


@pytest.fixture(scope="module")
def ladder_store(tmp_path_factory) -> MeasureStore:
    return MeasureStore(tmp_path_factory.mktemp("measure") / "measurements.sqlite3")


@pytest.fixture(scope="module")
def measured(quant_ladder, ladder_store):
    files = [quant_ladder[q] for q in SUBSET]
    steps = []
    comparison = measure(
        files,
        store=ladder_store,
        settings=FAST,
        progress=lambda step, total, message: steps.append((step, total)),
    )
    return comparison, steps


def by_quant(comparison):
    return {row.quant: row for row in comparison.rows}


def test_kl_divergence_grows_as_the_bits_shrink(measured):
    comparison, _ = measured
    rows = by_quant(comparison)
    assert [r.quant for r in comparison.rows] == list(SUBSET)  # largest first
    assert rows["F16"].reference and rows["F16"].kld == 0.0
    assert comparison.reference.endswith("F16.gguf")
    assert 0 < rows["Q8_0"].kld < rows["Q4_K_M"].kld < rows["Q2_K"].kld
    assert rows["Q8_0"].kld < 0.02 and rows["Q2_K"].kld > 0.15
    assert rows["Q2_K"].ppl > rows["Q4_K_M"].ppl > rows["Q8_0"].ppl * 0.99
    assert rows["Q8_0"].same_top_pct > rows["Q2_K"].same_top_pct
    sizes = [r.size_bytes for r in comparison.rows]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)


def test_speed_load_time_and_memory_are_measured(measured):
    comparison, steps = measured
    for row in comparison.rows:
        assert row.tokens == 256 - FAST.warmup
        assert row.prompt_tok_s > 0 and row.tok_s > 0 and row.load_s > 0
        # llama.cpp's buffers for the file: every weight, then the context's buffers (and any
        # weights it repacks for this CPU). Measured after the reference, a file used to read
        # the growth of the measuring process, far below its weights (36 MB for 88 MB of Q2_K).
        assert weight_bytes(row.file) <= row.memory_bytes < 4 * row.size_bytes
        assert 2 < row.bits_per_weight < 17
        assert not row.cached
    assert comparison.evaluated == len(SUBSET)
    assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1]
    assert [s for s, _ in steps] == sorted(s for s, _ in steps)


def test_a_file_measured_after_another_reads_its_own_memory(quant_ladder, hearth_home):
    """Q8_0 measured after the F16, in the same measuring run, reads what it reads measured
    first (before: the memory the F16 had freed was taken again and not counted)."""
    after = by_quant(measure([quant_ladder[q] for q in ("F16", "Q8_0")], settings=FAST))
    first = by_quant(measure([quant_ladder[q] for q in ("Q8_0", "Q2_K")], settings=FAST))
    assert not first["Q8_0"].cached and not after["Q8_0"].cached  # no store: both measured
    assert after["Q8_0"].memory_bytes == first["Q8_0"].memory_bytes
    for rows in (after, first):
        for row in rows.values():
            assert row.memory_bytes >= weight_bytes(row.file)
    # The F16 holds twice the Q8_0's weights (8.5 bits a weight): its figure is the larger
    assert after["F16"].memory_bytes > after["Q8_0"].memory_bytes


def weight_bytes(path: str) -> int:
    return sum(t.nbytes for t in read_local_header(Path(path)).tensors)


def test_results_are_stored_and_not_measured_twice(measured, quant_ladder, ladder_store):
    first, _ = measured
    again = measure([quant_ladder[q] for q in SUBSET], store=ladder_store, settings=FAST)
    assert again.evaluated == 0
    assert all(row.cached for row in again.rows)
    assert [(r.quant, r.kld, r.ppl) for r in again.rows] == [
        (r.quant, r.kld, r.ppl) for r in first.rows
    ]
    # A new file is measured alone, plus the reference whose logits it is compared with.
    more = measure([quant_ladder[q] for q in SUBSET + ("Q6_K",)], store=ladder_store, settings=FAST)
    assert more.evaluated == 2
    assert again.seconds < more.seconds  # reading three stored results costs less than measuring
    rows = by_quant(more)
    assert rows["Q8_0"].kld < rows["Q6_K"].kld < rows["Q4_K_M"].kld
    assert rows["Q4_K_M"].cached and not rows["Q6_K"].cached


def test_cancel_stops_and_keeps_finished_files(quant_ladder, hearth_home):
    store = MeasureStore(measurements_db(hearth_home.data_dir))
    cancel = threading.Event()
    cancelled_at = []
    started = time.perf_counter()

    def progress(step, total, message):
        if "Q2_K" in message and not cancel.is_set():
            cancel.set()
            cancelled_at.append(time.perf_counter())

    files = [quant_ladder["Q8_0"], quant_ladder["Q2_K"]]
    with pytest.raises(MeasureCancelled, match="cancelled"):
        measure(files, store=store, settings=FAST, progress=progress, cancel=cancel)
    stopped_after = time.perf_counter() - cancelled_at[0]
    # Stopped within the file being measured: sooner than the whole reference took, here, now.
    assert stopped_after < cancelled_at[0] - started
    assert store.count() == 1  # the reference (Q8_0) finished before the cancel
    assert stored_measurement(store, quant_ladder["Q8_0"]).quant == "Q8_0"
    assert stored_measurement(store, quant_ladder["Q2_K"]) is None


def test_users_own_text_is_measured_separately(quant_ladder, hearth_home):
    store = MeasureStore(measurements_db(hearth_home.data_dir))
    files = [quant_ladder["Q8_0"], quant_ladder["Q2_K"]]
    settings = MeasureSettings(tokens=192, n_batch=192, gen_tokens=2, threads=1)
    mine = measure(files, MeasureText("letter.txt", USER_TEXT), store=store, settings=settings)
    bundled = measure(files, store=store, settings=settings)
    assert mine.text == "letter.txt" and bundled.text == "bundled"
    assert mine.evaluated == bundled.evaluated == 2  # another text is another measurement
    assert by_quant(mine)["Q2_K"].ppl != by_quant(bundled)["Q2_K"].ppl
    assert by_quant(mine)["Q2_K"].kld > 0.05
    with pytest.raises(MeasureError, match="too short"):
        measure(files, MeasureText("short.txt", "Hello there."), store=store, settings=settings)


def test_user_text_file_is_read(tmp_path):
    (tmp_path / "notes.txt").write_text(USER_TEXT, encoding="utf-8")
    text = MeasureText.from_file(tmp_path / "notes.txt")
    assert text.name == "notes.txt" and text.sha256 != MeasureText.bundled().sha256
    assert len(MeasureText.bundled().text.split()) > 2000
    with pytest.raises(MeasureError, match="cannot be read"):
        MeasureText.from_file(tmp_path / "missing.txt")


def test_bad_file_sets_are_refused(quant_ladder, tmp_path):
    with pytest.raises(MeasureError, match="at least 2"):
        check_same_model([quant_ladder["Q8_0"]])
    with pytest.raises(MeasureError, match="at most 8"):
        check_same_model([quant_ladder["Q8_0"]] * 9)
    with pytest.raises(MeasureError, match="twice"):
        check_same_model([quant_ladder["Q8_0"], quant_ladder["Q8_0"]])
    with pytest.raises(MeasureError, match="not quants of the same model"):
        check_same_model(
            [quant_ladder["Q8_0"], write_other_model(tmp_path / "other.gguf", "Other")]
        )
    with pytest.raises(ModelFileError, match="does not exist"):
        check_same_model([quant_ladder["Q8_0"], tmp_path / "missing.gguf"])


def test_float16_reference_matches_exact_kl_divergence():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 3, (40, 5000)).astype(np.float32)
    other = reference + rng.normal(0, 0.3, reference.shape).astype(np.float32)
    targets = rng.integers(0, 5000, 40)
    logp, logq = log_softmax(reference).astype(np.float64), log_softmax(other)
    exact = float((np.exp(logp) * (logp - logq)).sum(axis=1).mean())
    with ReferenceLogits(5000) as recorded:
        Scorer(recorded, record=True).add(reference, targets)
        scorer = Scorer(recorded, record=False)
        scorer.add(other, targets)
    assert scorer.kld == pytest.approx(exact, rel=2e-3)
    assert scorer.ppl == pytest.approx(np.exp(-logq[np.arange(40), targets].mean()), rel=1e-5)
