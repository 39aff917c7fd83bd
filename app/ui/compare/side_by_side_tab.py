"""Side by side: one prompt, 2-4 models, the answers streaming in columns with their speed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.core.fit.estimate import Machine
from app.core.inference.remote import ConnectionStore
from app.core.inference.types import SamplingOptions
from app.ui.compare.board import CompareBoard
from app.ui.compare.runner import SessionFactory
from app.ui.my_models.library_model import LibraryModel


class SideBySideTab(QWidget):
    def __init__(
        self,
        library: LibraryModel,
        *,
        machine: Callable[[], Machine],
        connections: ConnectionStore,
        sessions: SessionFactory,
        sampling: SamplingOptions | None = None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.board = CompareBoard(
            library, machine=machine, connections=connections, sessions=sessions, sampling=sampling
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(
            QLabel(
                "Send one prompt to two to four models or quants and read the "
                "answers next to each other, with each one's speed.",
                objectName="hint",
                wordWrap=True,
            )
        )
        layout.addWidget(self.board, 1)

    def shutdown(self) -> None:
        self.board.shutdown()
