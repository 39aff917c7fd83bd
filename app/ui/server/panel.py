"""The local API server in the GUI: a toggle with the address, the port, the network switch with
its warning, the API key, and the request log (``RequestLogModel``) in a table.

The server serves the model loaded in the Chat page through ``SessionBackend``, so API requests
and the chat take turns on the one model. It listens and answers in its own threads; starting
takes a moment on the GUI thread (binding a socket), stopping runs on the thread pool.
"""

from __future__ import annotations

import time
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.common.errors import ServerError
from app.core.config.settings import Settings
from app.core.inference.types import SamplingOptions
from app.core.server.handler import RequestRecord
from app.core.server.server import DEFAULT_PORT, ApiServer
from app.ui.common.tasks import run_task, wait_ms
from app.ui.session.api_backend import SessionBackend
from app.ui.session.session import ChatSession

__all__ = ["LogRole", "RequestLogModel", "ServerPanel", "SessionBackend"]

Index = QModelIndex | QPersistentModelIndex
LOCAL_HOST, ALL_HOSTS = "127.0.0.1", "0.0.0.0"


class LogRole(IntEnum):
    Time = int(Qt.ItemDataRole.UserRole) + 1  # seconds since the epoch
    Method = Time + 1
    Path = Time + 2
    Status = Time + 3
    Tokens = Time + 4
    Duration = Time + 5  # seconds
    Client = Time + 6  # the client's IP address


_FIELDS = {
    LogRole.Time: "time",
    LogRole.Method: "method",
    LogRole.Path: "path",
    LogRole.Status: "status",
    LogRole.Tokens: "tokens",
    LogRole.Duration: "duration_s",
    LogRole.Client: "client",
}
COLUMNS = ("Time", "Method", "Path", "Status", "Tokens", "Duration", "Client")
# What each answer meant, in a few words (the request log is read by people, not clients)
STATUS_WORDS = {
    200: "OK",
    400: "bad request",
    401: "wrong API key",
    404: "not found",
    405: "wrong method",
    408: "too slow",
    411: "no length",
    413: "too large",
    429: "too many connections",
    499: "client left",
    500: "error",
    501: "not supported",
    502: "remote error",
    503: "busy",
}
_NUMERIC = {4, 5}


class RequestLogModel(QAbstractTableModel):
    """The server's requests, newest last, at most ``max_rows``."""

    def __init__(self, parent: QObject | None = None, max_rows: int = 500) -> None:
        super().__init__(parent)
        self._rows: list[RequestRecord] = []
        self.max_rows = max_rows

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        record = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(record, index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in _NUMERIC:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role in _FIELDS:
            return getattr(record, _FIELDS[LogRole(role)])
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names.update({int(role): QByteArray(role.name.lower().encode()) for role in LogRole})
        return names

    @Slot(object)
    def append(self, record: RequestRecord) -> None:
        if len(self._rows) >= self.max_rows:
            self.beginRemoveRows(QModelIndex(), 0, 0)
            del self._rows[0]
            self.endRemoveRows()
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(record)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()


def _cell(record: RequestRecord, column: int) -> str:
    values = (
        time.strftime("%H:%M:%S", time.localtime(record.time)),
        record.method,
        record.path,
        status_text(record.status),
        str(record.tokens) if record.tokens else "",
        f"{record.duration_s:.2f} s",
        record.client,
    )
    return values[column] if 0 <= column < len(values) else ""


def status_text(status: int) -> str:
    """``499 client left``: the code with what it meant (empty when no answer was sent)."""
    if not status:
        return ""
    words = STATUS_WORDS.get(status)
    return f"{status} {words}" if words else str(status)


class _LogRelay(QObject):
    """Carries request records from the server's threads to the GUI thread."""

    record = Signal(object)


class ServerPanel(QWidget):
    """Turn the API server on and off, and watch its requests."""

    serving_changed = Signal(bool)

    def __init__(
        self,
        session: ChatSession,
        settings: Settings | None = None,
        port: int = DEFAULT_PORT,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or Settings()
        self.server: ApiServer | None = None
        self.backend = SessionBackend(session, self)
        self.log_model = RequestLogModel(self)
        self._relay = _LogRelay(self)
        self._relay.record.connect(self.log_model.append, Qt.ConnectionType.QueuedConnection)

        self.toggle = QCheckBox()
        self.port_box = QSpinBox()
        self.port_box.setRange(1, 65535)
        self.port_box.setValue(port)
        self.network_box = QCheckBox("Allow other devices on my network")
        self.network_warning = QLabel(
            "Anyone who can reach this computer over the network will be able to use the "
            "model. Set an API key, and only do this on a network you trust.",
            objectName="warning",
            wordWrap=True,
        )
        self.network_warning.setVisible(False)
        self.key_edit = QLineEdit(
            echoMode=QLineEdit.EchoMode.Password,
            placeholderText="none: any program on this computer may ask",
        )
        self.status_label = QLabel("", objectName="hint", wordWrap=True)
        self.log_view = QTableView()
        self.log_view.setModel(self.log_model)
        self.log_view.verticalHeader().hide()
        self.log_view.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.log_view.horizontalHeader().setStretchLastSection(True)
        self.log_view.setWordWrap(False)
        # the header does not size itself again as rows arrive: fit each new row's text
        self.log_model.rowsInserted.connect(self._fit_columns)

        # A port is five digits and a key one line: the fields keep their own widths instead of
        # stretching across a 1920-px window (issue 19: the port box took the whole width).
        self.port_box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.key_edit.setMaximumWidth(self.key_edit.fontMetrics().averageCharWidth() * 60)
        form = QFormLayout()
        form.addRow("Port", self.port_box)
        form.addRow("API key", self.key_edit)
        network = QHBoxLayout()
        network.addWidget(self.network_box)
        network.addStretch(1)
        # The panel scrolls inside its dock: at its full height (~290 px) it made a 640-px window
        # taller once a notice was showing (issue 19's newcomer walk). The dock's title names it.
        content = QWidget(objectName="page")
        layout = QVBoxLayout(content)
        layout.addWidget(self.toggle)
        layout.addLayout(form)
        layout.addLayout(network)
        layout.addWidget(self.network_warning)
        layout.addWidget(self.status_label)
        layout.addWidget(self.log_view, 1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.toggle.toggled.connect(self._on_toggled)
        self.port_box.valueChanged.connect(self._update_address)
        self.network_box.toggled.connect(self._update_address)
        self._update_address()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """The form and three rows of the log: the dock opened at ~345 px of a 768-px window,
        most of it an empty log, the page above squeezed (issue 19's walk). Drag for more."""
        view = self.log_view
        rows = view.verticalHeader().defaultSectionSize() * 3
        log = view.horizontalHeader().sizeHint().height() + rows + 2 * view.frameWidth()
        parent = view.parentWidget()
        content = parent.sizeHint() if parent is not None else super().sizeHint()
        return QSize(content.width(), content.height() - view.sizeHint().height() + log)

    @property
    def host(self) -> str:
        return ALL_HOSTS if self.network_box.isChecked() else LOCAL_HOST

    def shutdown(self) -> None:
        """Stop the server now (window closing): requests in progress end at once; a request
        thread that does not is left behind once the quit's budget is spent (``wait_ms``)."""
        self.backend.close()
        server, self.server = self.server, None
        if server is not None:
            server.stop(wait_ms() / 1000)

    @Slot()
    def _fit_columns(self) -> None:
        for column in range(len(COLUMNS) - 1):  # the last one stretches
            self.log_view.resizeColumnToContents(column)

    @Slot()
    def _update_address(self) -> None:
        self.network_warning.setVisible(self.network_box.isChecked())
        where = (
            f"on port {self.port_box.value()} of every network interface"
            if self.network_box.isChecked()
            else f"on http://{LOCAL_HOST}:{self.port_box.value()}"
        )
        self.toggle.setText(f"Serve the loaded model {where}")

    @Slot(bool)
    def _on_toggled(self, on: bool) -> None:
        if on and self.server is None:
            self._start()
        elif not on and self.server is not None:
            self._stop()

    def _start(self) -> None:
        self.backend.open()
        server = ApiServer(
            self.backend,
            self.host,
            self.port_box.value(),
            self.key_edit.text().strip(),
            defaults=self._defaults(),
            allowed_origins=tuple(self.settings.api_allowed_origins),
            on_request=self._relay.record.emit,
        )
        try:
            server.start()
        except ServerError as exc:
            self.backend.close()
            self.status_label.setText(str(exc))
            self.toggle.blockSignals(True)
            self.toggle.setChecked(False)
            self.toggle.blockSignals(False)
            return
        self.server = server
        self._set_inputs_enabled(False)
        self.status_label.setText(
            f"Serving at {server.url} (OpenAI-compatible). Requests and the chat take turns "
            "on the loaded model."
        )
        self.serving_changed.emit(True)

    def _stop(self) -> None:
        server, self.server = self.server, None
        if server is None:  # not serving: nothing to stop
            return
        self.backend.close()
        self.toggle.setEnabled(False)
        self.status_label.setText("Stopping...")
        run_task(server.stop, self._on_stopped, self._on_stop_failed, self)

    @Slot(object)
    def _on_stopped(self, _result: object) -> None:
        self.toggle.setEnabled(True)
        self._set_inputs_enabled(True)
        self.status_label.setText("The server is off.")
        self.serving_changed.emit(False)

    @Slot(str)
    def _on_stop_failed(self, message: str) -> None:
        self._on_stopped(None)
        self.status_label.setText(message)

    def _set_inputs_enabled(self, enabled: bool) -> None:
        for widget in (self.port_box, self.network_box, self.key_edit):
            widget.setEnabled(enabled)

    def _defaults(self) -> SamplingOptions:
        return SamplingOptions.of(self.settings.sampling)
