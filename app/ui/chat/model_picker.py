"""The Chat page's model picker: local models and each connection's remote models.

The local rows follow the library model; the saved connections are read and the remote rows
listed per connection on the thread pool (``refresh_remote``), so a slow disk or a dead server
never blocks the window. Choosing a
model emits ``chosen`` (a ``ModelChoice``); the last row emits ``manage_requested``.
"""

from __future__ import annotations

import functools
import logging

from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QMenu

from app.core.inference.model_choice import (
    ConnectionModels,
    ModelChoice,
    list_remote,
    local_choices,
)
from app.core.inference.remote import Connection, ConnectionStore
from app.ui.chat.model_choice_model import (
    ChoiceRole,
    KeyRole,
    KindRole,
    ModelChoiceModel,
    PathRole,
)
from app.ui.common.folders import OPEN_FOLDER, open_containing_folder
from app.ui.common.tasks import TaskHandle, run_task
from app.ui.my_models.library_model import LibraryModel

log = logging.getLogger("hearth.ui.chat")


class ModelPicker(QComboBox):
    chosen = Signal(object)  # ModelChoice
    manage_requested = Signal()
    choices_changed = Signal()  # the rows were rebuilt (library scanned, a server listed)
    remote_failed = Signal(str)  # the saved connections file could not be read

    def __init__(
        self, library: LibraryModel, connections: ConnectionStore, probe_timeout: float = 10.0
    ) -> None:
        super().__init__()
        self.library, self.connections = library, connections
        self.probe_timeout = probe_timeout
        self.choices = ModelChoiceModel(self)
        self.setModel(self.choices)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(24)  # with settings open, Chat fits 1024 px (issue 19)
        self.active_key = ""  # the model the chat uses now: kept shown across rebuilds
        self._listing_tasks: list[TaskHandle] = []  # a newer refresh drops them
        self.listing = 0  # connections still being listed
        # While the rows are rebuilt, Qt moves the current row on its own (to the first row):
        # listeners that remember the user's pick skip those changes (``resetting``).
        self.resetting = False
        self.choices.modelAboutToBeReset.connect(self._on_about_to_reset)
        self.choices.modelReset.connect(self._on_reset)
        library.modelReset.connect(self._on_library)
        self.activated.connect(self._on_activated)
        # Right-click: "Open containing folder" of the local model shown, or of the row under
        # the pointer in the open list.
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.view().setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view().customContextMenuRequested.connect(self._row_menu)
        self._on_library()

    def current_choice(self) -> ModelChoice | None:
        return self.currentData(ChoiceRole)

    def select_key(self, key: str) -> bool:
        row = self.choices.row_of(key)
        if row >= 0:
            self.setCurrentIndex(row)
        return row >= 0

    def set_active(self, key: str) -> None:
        self.active_key = key
        self.select_key(key)

    @Slot()
    def refresh_remote(self) -> None:
        """Read the saved connections, then list each one's models, each in its own pool task."""
        for task in self._listing_tasks:
            task.cancel()
        self.listing = 1  # the read counts as one: nothing is listed until it is in
        self._listing_tasks = [
            run_task(
                self.connections.connections,
                self._on_connections,
                self._on_connections_failed,
                self,
                key="connections",  # a newer refresh drops this one's list
                name="reading the saved connections",
            )
        ]

    @Slot(str)
    def _on_connections_failed(self, message: str) -> None:
        self.remote_failed.emit(message)
        self._on_connections([])

    def _on_connections(self, connections: list[Connection]) -> None:
        self.listing = len(connections)  # before the rows change: listeners see it
        self.choices.set_connections(connections)
        timeout = self.probe_timeout
        self._listing_tasks = [
            run_task(
                functools.partial(list_remote, connection, timeout),
                self._on_listed,
                self.remote_failed.emit,
                self,
            )
            for connection in connections
        ]

    @Slot(object)
    def _on_listed(self, listed: ConnectionModels) -> None:
        self.listing -= 1
        if listed.error:
            log.info("Connection %s not listed: %s", listed.connection.name, listed.error)
        self.choices.set_listed(listed)

    @Slot()
    def _on_library(self) -> None:
        self.choices.set_local(local_choices(self.library.models()))

    @Slot()
    def _on_about_to_reset(self) -> None:
        self.resetting = True

    @Slot()
    def _on_reset(self) -> None:
        row = self.choices.row_of(self.active_key)
        self.setCurrentIndex(row if row >= 0 else (0 if self.choices.local_count() else -1))
        self.resetting = False
        self.choices_changed.emit()

    def folder_menu(self, row: int) -> QMenu | None:
        """The context menu of a local model's row (None for other rows)."""
        path = self.itemData(row, PathRole) if row >= 0 else ""
        if not path:
            return None
        menu = QMenu(self)
        menu.addAction(OPEN_FOLDER, lambda: open_containing_folder(path))
        return menu

    @Slot(QPoint)
    def _menu(self, position: QPoint) -> None:
        menu = self.folder_menu(self.currentIndex())
        if menu is not None:
            menu.popup(self.mapToGlobal(position))

    @Slot(QPoint)
    def _row_menu(self, position: QPoint) -> None:
        menu = self.folder_menu(self.view().indexAt(position).row())
        if menu is not None:
            menu.popup(self.view().viewport().mapToGlobal(position))

    @Slot(int)
    def _on_activated(self, row: int) -> None:
        kind = self.itemData(row, KindRole)
        if kind == "manage":
            if not self.select_key(self.active_key):
                self.setCurrentIndex(-1)
            self.manage_requested.emit()
        elif kind == "remote" or (
            kind == "local" and self.itemData(row, KeyRole) != self.active_key
        ):
            self.chosen.emit(self.itemData(row, ChoiceRole))  # a remote one: checked again
