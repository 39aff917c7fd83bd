"""app/core/storage/small_db.py through its two stores: a damaged file is kept aside as it was, a
fresh one takes its place, and the store says so once."""

from __future__ import annotations

import pytest

from app.core.common.errors import ArenaError
from app.core.compare.arena import ArenaStore, arena_db
from app.core.measure.store import MeasureStore, measurements_db


def test_a_damaged_arena_file_is_kept_aside_and_the_arena_goes_on(hearth_home):
    path = arena_db(hearth_home.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    store = ArenaStore(path)
    [aside] = path.parent.glob("arena.sqlite3.damaged-*")
    assert store.notice == (
        f"The arena file was damaged: it was kept as {aside.name} and a new one was started."
    )
    assert aside.read_bytes().startswith(b"this is not a database")  # nothing overwritten
    store.record("Q4_K_M", "Q8_0", "tie")
    assert [s.label for s in ArenaStore(path).tally()] == ["Q4_K_M", "Q8_0"]
    assert ArenaStore(path).notice == ""


def test_a_damaged_measurements_file_is_kept_aside(hearth_home):
    path = measurements_db(hearth_home.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    store = MeasureStore(path)
    assert store.notice.startswith("The measurements file was damaged: it was kept as ")
    [aside] = path.parent.glob("measurements.sqlite3.damaged-*")
    assert aside.read_bytes().startswith(b"this is not a database")
    assert store.count() == 0


def test_an_unwritable_place_gives_a_notice_and_typed_errors_later(hearth_home, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    store = ArenaStore(blocker / "arena.sqlite3")
    assert store.notice.startswith("The arena file cannot be saved")
    with pytest.raises(ArenaError):
        store.record("a", "b", "A")
