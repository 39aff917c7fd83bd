"""Hearth's chat path as the Chat page holds it, for ``hearth bench chat`` to time.

A ``ChatSession`` (engine in its worker thread) with the model loaded, a chat store in a
temporary folder and a visible transcript; ``on_token`` does what ``ChatPage._on_token`` does
with each chunk: store it, then show it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop

from app.core.chats import ChatStore
from app.core.engine import LoadOptions
from app.ui.chat_worker import ChatSession
from app.ui.transcript import ShownMessage, Transcript


class ChatPath:
    def __init__(self, model: Path, n_ctx: int, threads: int) -> None:
        self.session = ChatSession()
        self._folder = tempfile.TemporaryDirectory(prefix="hearth-bench-")
        self.store = ChatStore(Path(self._folder.name) / "chats.sqlite3")
        self.view = Transcript()
        self.view.resize(900, 700)
        self.view.show()
        self.loop = QEventLoop()
        self.session.loaded.connect(self.loop.quit)
        self.session.load_failed.connect(self.loop.quit)
        self.session.load(model, LoadOptions(n_ctx=n_ctx, n_threads=threads))
        self.loop.exec()
        if self.session.model is None:
            raise SystemExit(f"could not load {model}")
        self.session.token.connect(self.on_token)
        self.session.finished.connect(self.loop.quit)
        self.session.failed.connect(self.loop.quit)
        self.answer_id = 0

    def begin(self, question: str) -> None:
        """A new chat with ``question`` on screen and an empty answer to stream into."""
        chat = self.store.create_chat()
        message = self.store.add_message(chat.id, "user", question)
        self.view.show_messages([ShownMessage(message.id, "user", question)])
        self.answer_id = self.store.begin_answer(chat.id)
        self.view.begin_answer(self.answer_id)

    def on_token(self, text: str) -> None:  # a chunk: the worker batches tokens (TextBatcher)
        self.store.append_to_answer(self.answer_id, text)
        self.view.append_to_answer(text)

    def close(self) -> None:
        self.session.shutdown()
        self.view.close()
        self.store.close()
        self._folder.cleanup()
