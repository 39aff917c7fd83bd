"""app/core/small_db.py through its two stores: a damaged file gives a plain message and is
left as it was."""

from __future__ import annotations

import pytest

from app.core.arena import ArenaStore, arena_db
from app.core.errors import ArenaError, MeasureError
from app.core.measure_store import MeasureStore, measurements_db


def test_a_damaged_arena_file_gives_a_plain_message(hearth_home):
    path = arena_db(hearth_home.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArenaError, match=r"The arena file .*arena.sqlite3 cannot be used: "):
        ArenaStore(path)
    assert path.read_bytes().startswith(b"this is not a database")  # nothing overwritten


def test_a_damaged_measurements_file_says_what_deleting_it_does(hearth_home):
    path = measurements_db(hearth_home.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(MeasureError, match="cannot be used: .*Deleting it forgets past "
                                           "measurements."):
        MeasureStore(path)
    assert path.read_bytes().startswith(b"this is not a database")
