"""The blind arena's tally: votes between two labelled answers, wins/losses/ties and a rating.

Votes are kept in SQLite (``paths.data_dir / "arena.sqlite3"``), so the tally survives
restarts. The rating is Elo (start 1000, K = 32), recomputed by replaying every vote in order:
the same votes always give the same ratings, and nothing but the votes is stored.
Labels are whatever the Compare page shows after the reveal (a quant such as ``Q4_K_M``, or a
file name); the tally is per label.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.core.common.errors import ArenaError
from app.core.storage import small_db

WINNERS = ("A", "B", "tie")
START_RATING = 1000.0
K_FACTOR = 32.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    winner TEXT NOT NULL CHECK (winner IN ('A', 'B', 'tie')),
    prompt TEXT NOT NULL,
    voted_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Vote:
    id: int
    model_a: str
    model_b: str
    winner: str  # "A", "B" or "tie"
    prompt: str
    voted_at: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Standing:
    label: str
    wins: int
    losses: int
    ties: int
    rating: float

    @property
    def games(self) -> int:
        return self.wins + self.losses + self.ties

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "games": self.games}


def expected_score(rating: float, other: float) -> float:
    return 1.0 / (1.0 + 10 ** ((other - rating) / 400.0))


def tally(votes: list[Vote]) -> list[Standing]:
    """Wins, losses, ties and Elo rating per label, best rating first."""
    ratings: dict[str, float] = {}
    counts: dict[str, list[int]] = {}
    for vote in votes:
        a, b = vote.model_a, vote.model_b
        for label in (a, b):
            ratings.setdefault(label, START_RATING)
            counts.setdefault(label, [0, 0, 0])
        score_a = {"A": 1.0, "B": 0.0, "tie": 0.5}[vote.winner]
        expect_a = expected_score(ratings[a], ratings[b])
        ratings[a] += K_FACTOR * (score_a - expect_a)
        ratings[b] += K_FACTOR * ((1.0 - score_a) - (1.0 - expect_a))
        if vote.winner == "tie":
            counts[a][2] += 1
            counts[b][2] += 1
        else:
            winner, loser = (a, b) if vote.winner == "A" else (b, a)
            counts[winner][0] += 1
            counts[loser][1] += 1
    standings = []
    for label, rating in ratings.items():
        wins, losses, ties = counts[label]
        standings.append(Standing(label, wins, losses, ties, rating=round(rating, 1)))
    return sorted(standings, key=lambda s: (-s.rating, s.label))


class ArenaStore:
    """Votes on disk. Each call opens its own connection (usable from any thread)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        # Never raises for what is on disk; ``notice`` says what was set aside, if anything.
        self.notice = small_db.prepare(self.db_path, _SCHEMA, "The arena file")

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return small_db.connect(self.db_path, ArenaError, "The arena file")

    def record(self, model_a: str, model_b: str, winner: str, prompt: str = "") -> Vote:
        """Store one vote; ``winner`` is "A", "B" or "tie"."""
        winner = {"a": "A", "b": "B", "tie": "tie"}.get(winner.lower(), winner)
        if winner not in WINNERS:
            raise ValueError(f"winner must be one of {WINNERS}, not {winner!r}")
        if not model_a or not model_b or model_a == model_b:
            raise ValueError("a vote needs two different labels")
        now = time.time()
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO votes (model_a, model_b, winner, prompt, voted_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (model_a, model_b, winner, prompt, now),
            )
        assert cursor.lastrowid is not None  # set by every INSERT
        return Vote(cursor.lastrowid, model_a, model_b, winner, prompt, now)

    def votes(self) -> list[Vote]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, model_a, model_b, winner, prompt, voted_at FROM votes ORDER BY id"
            ).fetchall()
        return [Vote(*row) for row in rows]

    def tally(self) -> list[Standing]:
        return tally(self.votes())

    def reset(self) -> None:
        """Forget every vote."""
        with self._connect() as db:
            db.execute("DELETE FROM votes")


def arena_db(data_dir: Path) -> Path:
    """Where the votes live: ``paths.data_dir / "arena.sqlite3"``."""
    return Path(data_dir) / "arena.sqlite3"
