"""``Services``: what the studio builds once at start and hands to its pages.

The stores (chats, arena votes, measurements), the saved connections and the machine's
hardware report are each opened or probed here once; the pages take them from their
constructors and never open or probe their own (they used to: the machine was probed by five
pages, the measurements and connections opened twice).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.common.paths import Paths
from app.core.fit.machine_info import MachineInfo
from app.core.inference.remote import ConnectionStore
from app.core.stores import Stores, open_stores


@dataclass
class Services:
    paths: Paths
    stores: Stores
    connections: ConnectionStore
    machine: MachineInfo

    @classmethod
    def open(cls, paths: Paths, stores: Stores | None = None) -> Services:
        """Open everything; a damaged file never raises here (each store says what it set
        aside in ``stores.notices``)."""
        return cls(
            paths=paths,
            stores=stores or open_stores(paths),
            connections=ConnectionStore(paths.config_dir / "connections.json"),
            machine=MachineInfo(paths.models_dir),
        )
