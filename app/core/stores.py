"""The studio's stored state in SQLite, opened once at start and handed to the pages: the chat
history, the arena's votes and the measurements.

Opening never raises for what is on disk (each store sets a damaged file aside, recovers what
it can and says so in ``notice``), so a bad file cannot stop the window from being built; the
window shows ``notices`` once it is up.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.chats.store import ChatStore
from app.core.common.paths import Paths
from app.core.compare.arena import ArenaStore, arena_db
from app.core.measure.store import MeasureStore, measurements_db


@dataclass
class Stores:
    chats: ChatStore
    arena: ArenaStore
    measurements: MeasureStore

    @property
    def notices(self) -> list[str]:
        """One sentence per store that set something aside or cannot save."""
        return [
            store.notice for store in (self.chats, self.arena, self.measurements) if store.notice
        ]

    def close(self) -> None:
        self.chats.close()


def open_stores(paths: Paths) -> Stores:
    return Stores(
        ChatStore(paths.chats_db),
        ArenaStore(arena_db(paths.data_dir)),
        MeasureStore(measurements_db(paths.data_dir)),
    )
