"""A Compare measurement's generation speed is a data point for the speed estimates, as a chat
answer is: the real ladder files measured by the real llama.cpp."""

from __future__ import annotations

from app.core.fit import speed_log
from app.core.hardware import cpu_speed
from app.core.measure.measurement import MeasureSettings, measure
from app.core.measure.store import MeasureStore, measurements_db


def test_compare_records_each_files_measured_speed(quant_ladder, hearth_home):
    store = MeasureStore(measurements_db(hearth_home.data_dir))
    files = [quant_ladder["Q8_0"], quant_ladder["Q2_K"]]
    settings = MeasureSettings(tokens=128, n_batch=128, gen_tokens=16, gen_prompt=8, threads=1)
    result = measure(files, store=store, settings=settings)
    runs = speed_log.runs(hearth_home.data_dir, cpu_speed.this_machine())
    assert sorted((r.name, r.tok_s, r.tokens) for r in runs) == sorted(
        (row.name, row.tok_s, 16) for row in result.rows
    )
    # measured again from the store (cached): not a second data point
    measure(files, store=store, settings=settings)
    assert len(speed_log.runs(hearth_home.data_dir)) == 2
    # too short a generation to time: nothing recorded
    short = MeasureSettings(tokens=128, n_batch=128, gen_tokens=2, gen_prompt=8, threads=1)
    measure([quant_ladder["Q4_K_M"], quant_ladder["Q3_K_M"]], store=store, settings=short)
    assert len(speed_log.runs(hearth_home.data_dir)) == 2


def test_without_a_store_nothing_is_recorded(quant_ladder, hearth_home):
    settings = MeasureSettings(tokens=128, n_batch=128, gen_tokens=16, gen_prompt=8, threads=1)
    measure([quant_ladder["Q2_K"], quant_ladder["Q3_K_M"]], settings=settings)
    assert speed_log.runs(hearth_home.data_dir) == []
