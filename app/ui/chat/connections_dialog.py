"""Manage connections: add, edit, test and remove remote OpenAI-compatible servers.

"Test" asks the server for its models on the thread pool and lists them, or says in plain words
why it could not (refused, wrong key, not an OpenAI-compatible server, no answer in time). The
API key is typed into a masked field and saved with ``ConnectionStore``; it is never logged.
The saved list is read on the thread pool too (``listed`` follows), as it is each time it changes;
Save and Remove write the file there as well, one change at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QModelIndex, QStringListModel, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.common.errors import HearthError
from app.core.inference.model_choice import PROBE_TIMEOUT_S, short_model_name
from app.core.inference.remote import Connection, ConnectionStore, list_models
from app.ui.chat.connections_model import ConnectionsModel
from app.ui.common.confirm import ask_yes_no
from app.ui.common.tasks import run_task

log = logging.getLogger("hearth.ui.connections")


class ConnectionsDialog(QDialog):
    changed = Signal()  # a connection was saved or removed
    tested = Signal(bool)  # a test ended: True when the server listed its models
    listed = Signal()  # the saved connections were read (on the pool) and are shown

    def __init__(
        self,
        store: ConnectionStore,
        parent: QWidget | None = None,
        timeout: float = PROBE_TIMEOUT_S,
        confirm: Callable[[QWidget, str], bool] = ask_yes_no,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connections")
        self.resize(760, 440)
        self.store, self.timeout, self.confirm = store, timeout, confirm
        self.editing = ""  # the saved name of the connection in the form, "" for a new one
        self._submitted: tuple[str, str, str] | None = None  # the form as the last Save took it
        self.changing = False  # a save or remove is being written on the pool

        self.model = ConnectionsModel(self)
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setFixedWidth(220)
        self.list.selectionModel().currentRowChanged.connect(self._on_row)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.new_connection)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_connection)
        self.remove_button.setEnabled(False)  # until a saved connection is shown

        self.name = QLineEdit(placeholderText="e.g. vLLM on the workstation")
        self.url = QLineEdit(placeholderText="http://127.0.0.1:8000/v1")
        self.key = QLineEdit(placeholderText="optional", echoMode=QLineEdit.EchoMode.Password)
        self.show_key = QCheckBox("Show")
        self.show_key.toggled.connect(self._on_show_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.show_key)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Server address", self.url)
        form.addRow("API key", key_row)
        self.test_button = QPushButton("Test")
        self.test_button.clicked.connect(self.test_connection)
        self.save_button = QPushButton("Save", objectName="primary")
        self.save_button.clicked.connect(self.save_connection)
        self.status = QLabel(
            "Works with vLLM, SGLang, TGI, Ollama, LM Studio, llama.cpp's "
            "server or another Hearth.",
            objectName="hint",
            wordWrap=True,
        )
        self.models = QStringListModel(self)
        self.models_view = QListView()
        self.models_view.setModel(self.models)
        self.models_view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)

        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        buttons_left = QHBoxLayout()
        buttons_left.addWidget(self.add_button)
        buttons_left.addWidget(self.remove_button)
        left.addLayout(buttons_left)
        right = QVBoxLayout()
        right.addLayout(form)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.test_button)
        actions.addWidget(self.save_button)
        right.addLayout(actions)
        right.addWidget(self.status)
        right.addWidget(QLabel("Models on this server"))
        right.addWidget(self.models_view, 1)
        body = QHBoxLayout()
        body.addLayout(left)
        body.addLayout(right, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(close)
        self.name.setFocus()
        self.reload()

    # -- list -------------------------------------------------------------------------------
    def reload(self, select: str = "") -> None:
        """Read the saved connections on the pool, then show them with ``select`` chosen."""
        run_task(
            self.store.connections,
            partial(self._show, select),
            self._on_read_failed,
            self,
            key="read",  # a newer read drops this one's list
            name="reading the saved connections",
        )

    @Slot(str)
    def _on_read_failed(self, message: str) -> None:
        self._say(message, error=True)
        self._show("", [])

    def _show(self, select: str, connections: list[Connection]) -> None:
        self.model.set_connections(connections)
        row = self.model.row_of(select) if select else (0 if connections else -1)
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))
        elif self.editing:  # the connection in the form is gone; a new one being typed stays
            self.new_connection()
        self.listed.emit()

    @Slot(QModelIndex, QModelIndex)
    def _on_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        connection = self.model.connection(current.row())
        if connection is None:
            return
        self.remove_button.setEnabled(True)
        same = connection.name == self.editing
        if same and self._form() != self._submitted:
            return  # shown again after a save: what was typed since the save started stays
        self.editing = connection.name
        self.name.setText(connection.name)
        self.url.setText(connection.base_url)  # as saved (``/v1`` added)
        self.key.setText(connection.api_key)
        if not same:  # another connection: its models are not known until tested
            self.models.setStringList([])
            self._say("Test lists the models this server offers.")

    def _form(self) -> tuple[str, str, str]:
        return self.name.text(), self.url.text(), self.key.text()

    @Slot()
    def new_connection(self) -> None:
        self.list.clearSelection()
        self.list.setCurrentIndex(self.model.index(-1))
        self.editing = ""
        for field in (self.name, self.url, self.key):
            field.clear()
        self.models.setStringList([])
        self.remove_button.setEnabled(False)
        self.name.setFocus()

    # -- form -------------------------------------------------------------------------------
    def form_connection(self) -> Connection | None:
        """The connection the form describes, or None after saying what to fix."""
        name = self.name.text().strip()
        if not name:
            self._say("Give the connection a name.", error=True)
            return None
        try:
            return Connection(name, self.url.text(), self.key.text())
        except HearthError as exc:
            self._say(str(exc), error=True)
            return None

    @Slot()
    def save_connection(self) -> bool:
        """Save the form's connection on the pool (the list follows, ``listed``); False when
        the form is not one, or a change is being written still."""
        connection = self.form_connection()
        if connection is None or self.changing:
            return False
        replaced, store = self.editing, self.store
        self._submitted = self._form()

        def save() -> list[Connection]:
            if replaced and replaced != connection.name:
                store.remove(replaced)
            store.save(connection)
            return store.connections()

        self._change(save, partial(self._on_saved, connection), "saved")
        return True

    def _on_saved(self, connection: Connection, connections: list[Connection]) -> None:
        log.info("Saved the connection %s (%s)", connection.name, connection.base_url)
        self.editing = connection.name
        self._say(f"Saved {connection.name}.")
        self.changed.emit()
        self._show(connection.name, connections)

    @Slot()
    def remove_connection(self) -> None:
        name = self.editing
        if (
            self.changing
            or not name
            or not self.confirm(
                self, f"Remove the connection '{name}'? Its API key is deleted too."
            )
        ):
            return
        store = self.store

        def remove() -> list[Connection]:
            store.remove(name)
            return store.connections()

        self._change(remove, partial(self._on_removed, name), "removed")

    def _on_removed(self, name: str, connections: list[Connection]) -> None:
        log.info("Removed the connection %s", name)
        self.changed.emit()
        self._show("", connections)

    def _change(
        self,
        job: Callable[[], list[Connection]],
        done: Callable[[list[Connection]], None],
        verb: str,
    ) -> None:
        """Run a change of the saved file (read, change, write, read the list) on the pool,
        one at a time: Save and Remove wait meanwhile, so changes land in the order made."""
        self.changing = True
        self.save_button.setEnabled(False)
        self.remove_button.setEnabled(False)

        def finished(connections: list[Connection]) -> None:
            self._end_change()
            done(connections)

        def failed(message: str) -> None:
            self._end_change()
            self._say(f"The connection could not be {verb}: {message}", error=True)

        run_task(job, finished, failed, self, key="read", name=f"connection {verb}")

    def _end_change(self) -> None:
        self.changing = False
        self.save_button.setEnabled(True)
        self.remove_button.setEnabled(bool(self.editing))

    @Slot()
    def test_connection(self) -> None:
        connection = self.form_connection()
        if connection is None:
            return
        timeout = self.timeout
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing...")
        self.models.setStringList([])
        self._say(f"Asking {connection.base_url} for its models...")
        run_task(
            lambda: list_models(connection, timeout),
            self._on_tested,
            self._on_test_failed,
            self,
            key="test",  # a newer test drops this one's answer
        )

    @Slot(object)
    def _on_tested(self, models: list[str]) -> None:
        self._end_test()
        self.models.setStringList([short_model_name(m) for m in models])
        self._say(
            f"Connected: {len(models)} model{'' if len(models) == 1 else 's'} available."
            if models
            else "Connected, but the server lists no models.",
            error=not models,
        )
        self.tested.emit(True)

    @Slot(str)
    def _on_test_failed(self, message: str) -> None:
        self._end_test()
        self._say(message, error=True)
        self.tested.emit(False)

    def _end_test(self) -> None:
        self.test_button.setEnabled(True)
        self.test_button.setText("Test")

    @Slot(bool)
    def _on_show_key(self, shown: bool) -> None:
        self.key.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setObjectName("error" if error else "hint")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.status.setText(text)
