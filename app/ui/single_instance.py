"""One studio per data folder: a second start brings the running window forward and exits.

Why not two studios on the same chats: the chat history is kept in memory and written behind
(``app.core.chats.history``), with ids handed out in memory, so two processes would each think
the next chat id is theirs; and each would show a history the other keeps changing under it.
The API server's port and the model host's memory would be taken twice too.

How: a ``QLockFile`` in the data folder (``hearth.lock``) says a studio runs there; Qt treats
the file of a process that has died (a crash, a kill) as stale and takes it over, so a crash
never locks the user out. The running studio listens on a local socket named after the data
folder; a second start connects, asks for the window, says "Hearth is already running" and
exits. Studios with different data folders (``HEARTH_HOME``) run side by side.

The lock is taken before the window is built; the socket listens from the turn after the
window's first paint (``listen``: QtNetwork cost ~5 ms of the start), so a second start in
that moment tries again until the running studio answers.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QCryptographicHash,
    QDeadlineTimer,
    QLockFile,
    QObject,
    QThread,
    Signal,
    Slot,
)
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from PySide6.QtNetwork import QLocalServer

log = logging.getLogger("hearth.ui")

ALREADY_RUNNING = "Hearth is already running with this data folder ({folder}); its window was "
WAIT_MS = 2_000  # for the running studio to answer; it answers from its event loop at once


def socket_name(data_dir: Path) -> str:
    """The same name as a sha256 from hashlib gives; Qt's hash spares the studio's start
    importing hashlib and OpenSSL (~3 ms)."""
    folder = str(Path(data_dir).resolve()).encode()
    digest = QCryptographicHash.hash(folder, QCryptographicHash.Algorithm.Sha256)
    return f"hearth-{bytes(digest.toHex().data()).decode()[:16]}"


class SingleInstance(QObject):
    """Claimed by the first studio on a data folder; later starts hand over to it."""

    show_requested = Signal()

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = QLockFile(str(self.data_dir / "hearth.lock"))
        self._server: QLocalServer | None = None

    def claim(self) -> bool:
        """True when this is the only studio on the data folder; ``listen`` then."""
        return self._lock.tryLock(0)

    def listen(self) -> None:
        """Answer later starts from now on (called once the window has painted)."""
        from PySide6.QtNetwork import QLocalServer

        name = socket_name(self.data_dir)
        QLocalServer.removeServer(name)  # a socket file left by a studio that crashed
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_connection)
        if not self._server.listen(name):
            log.warning("Cannot listen for a second start: %s", self._server.errorString())

    def hand_over(self) -> int:
        """Ask the running studio to show its window, say so, and return the exit code."""
        from PySide6.QtNetwork import QLocalSocket

        socket = QLocalSocket()
        deadline = QDeadlineTimer(WAIT_MS)
        while True:  # a studio that is just starting listens once its window has painted
            socket.connectToServer(socket_name(self.data_dir))
            shown = socket.waitForConnected(max(0, deadline.remainingTime()))
            if shown or deadline.hasExpired():
                break
            QThread.msleep(50)
        if shown:
            socket.write(b"show\n")
            shown = socket.waitForBytesWritten(WAIT_MS)
            socket.disconnectFromServer()
        said = ALREADY_RUNNING.format(folder=self.data_dir) + (
            "brought forward." if shown else "asked for but did not answer."
        )
        log.info("%s", said)
        print(said, file=sys.stderr)
        return 0

    def show_window(self, window: QWidget) -> None:
        self._window = window
        self.show_requested.connect(self._raise_window)

    @Slot()
    def _raise_window(self) -> None:
        window = self._window
        if window.isMinimized():
            window.showNormal()
        else:
            window.show()
        window.raise_()
        window.activateWindow()
        log.info("Window brought forward for a second start")

    @Slot()
    def _on_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self.show_requested)
            socket.disconnected.connect(socket.deleteLater)

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
        self._lock.unlock()
