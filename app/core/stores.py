"""The studio's stored state in SQLite, opened once at start and handed to the pages: the chat
history, the arena's votes and the measurements.

Opening never raises for what is on disk (each store sets a damaged file aside, recovers what
it can and says so in ``notice``), so a bad file cannot stop the window from being built; the
window shows ``notices`` once it is up.

The window never waits on these files: the chats are kept in memory and written behind by their
own thread (``ChatHistory``); the arena's votes and the measurements are written and read in
the background by the pages. ``close`` waits a bounded time for the chats still to be written
and keeps the rest for the next start.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.chats.history import ChatHistory
from app.core.chats.store import ChatStore
from app.core.common.paths import Paths
from app.core.compare.arena import ArenaStore, arena_db
from app.core.measure.store import MeasureStore, measurements_db

MIN_WAIT_S = 0.5


@dataclass
class Stores:
    chats: ChatHistory
    arena: ArenaStore
    measurements: MeasureStore

    @property
    def notices(self) -> list[str]:
        """One sentence per store that set something aside or cannot save."""
        return [
            store.notice for store in (self.chats, self.arena, self.measurements) if store.notice
        ]

    def close(self, timeout_s: float = 3.0) -> str:
        """Write the chats' queued changes, waiting at most about ``timeout_s`` (never less
        than ``MIN_WAIT_S``: a session's last changes are written in milliseconds, and a quit
        whose budget is spent should not set them aside for nothing); returns one sentence
        when some could not be written ("" when all were)."""
        closed = self.chats.close(max(timeout_s, MIN_WAIT_S))
        if not closed.unwritten:
            return ""
        if closed.lost:
            return (
                f"{closed.unwritten} change(s) to your chats could not be saved: the chat "
                f"history stayed locked or the disk full, and they could not be kept aside."
            )
        return (
            f"{closed.unwritten} change(s) to your chats could not be written yet; they are "
            f"kept in {closed.journal} and saved when Hearth starts next."
        )


def open_stores(paths: Paths) -> Stores:
    return Stores(
        ChatHistory(ChatStore(paths.chats_db)),
        ArenaStore(arena_db(paths.data_dir)),
        MeasureStore(measurements_db(paths.data_dir)),
    )
