"""The blind arena's tally: votes on disk, wins/losses/ties, Elo ratings."""

from __future__ import annotations

import pytest

from app.core.compare.arena import START_RATING, ArenaStore, Vote, arena_db, tally


def test_tally_survives_reopening(hearth_home):
    path = arena_db(hearth_home.data_dir)
    assert path == hearth_home.data_dir / "arena.sqlite3"
    store = ArenaStore(path)
    store.record("Q8_0", "Q2_K", "A", prompt="Write a haiku about rain")
    store.record("Q2_K", "Q4_K_M", "b", prompt="Name three rivers")
    store.record("Q8_0", "Q4_K_M", "tie", prompt="What is 2 + 2?")
    before = store.tally()
    del store

    reopened = ArenaStore(path)  # as after a restart
    assert reopened.tally() == before
    assert [v.prompt for v in reopened.votes()] == [
        "Write a haiku about rain",
        "Name three rivers",
        "What is 2 + 2?",
    ]
    standings = {s.label: s for s in before}
    assert (standings["Q8_0"].wins, standings["Q8_0"].losses, standings["Q8_0"].ties) == (1, 0, 1)
    assert (standings["Q2_K"].wins, standings["Q2_K"].losses, standings["Q2_K"].ties) == (0, 2, 0)
    assert standings["Q4_K_M"].games == 2
    assert before[-1].label == "Q2_K"  # lowest rating last
    assert standings["Q2_K"].rating < START_RATING < standings["Q8_0"].rating
    assert standings["Q8_0"].to_json()["games"] == 2


def test_elo_is_zero_sum_and_a_tie_between_equals_changes_nothing():
    votes = [Vote(1, "A-quant", "B-quant", "tie", "", 0.0)]
    assert [s.rating for s in tally(votes)] == [START_RATING, START_RATING]
    votes = [Vote(i, "X", "Y", "A", "", 0.0) for i in range(5)]
    ratings = {s.label: s.rating for s in tally(votes)}
    assert ratings["X"] + ratings["Y"] == pytest.approx(2 * START_RATING, abs=0.2)
    # Each further win against a weaker opponent is worth less.
    gains = [
        tally(votes[: n + 1])[0].rating - tally(votes[:n])[0].rating if n else 16.0
        for n in range(5)
    ]
    assert gains == sorted(gains, reverse=True)


def test_bad_votes_are_refused(hearth_home):
    store = ArenaStore(arena_db(hearth_home.data_dir))
    with pytest.raises(ValueError, match="winner"):
        store.record("Q8_0", "Q2_K", "C")
    with pytest.raises(ValueError, match="two different labels"):
        store.record("Q8_0", "Q8_0", "A")
    assert store.votes() == []
    store.record("Q8_0", "Q2_K", "A")
    store.reset()
    assert store.tally() == []
