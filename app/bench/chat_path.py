"""Hearth's chat path as the Chat page holds it, for ``hearth bench chat`` to time.

A ``ChatSession`` (its worker thread driving the model's host process) with the model loaded, a chat history in a
temporary folder (``ChatHistory``: in memory, written behind by its thread, as the page has it)
and a visible transcript; ``on_token`` does what ``ChatPage._on_token`` does with each chunk:
store it, then show it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop

from app.core.chats.history import ChatHistory
from app.core.chats.store import ChatStore
from app.core.inference.types import LoadOptions, SamplingOptions
from app.ui.chat.transcript import ShownMessage, Transcript
from app.ui.session.reply import Reply
from app.ui.session.session import ChatSession


class ChatPath:
    def __init__(self, model: Path, n_ctx: int, threads: int) -> None:
        self.session = ChatSession()
        self._folder = tempfile.TemporaryDirectory(prefix="hearth-bench-")
        self.store = ChatHistory(ChatStore(Path(self._folder.name) / "chats.sqlite3"))
        self.view = Transcript()
        self.view.resize(900, 700)
        self.view.show()
        self.loop = QEventLoop()
        self.session.loaded.connect(self.loop.quit)
        self.session.load_failed.connect(self.loop.quit)
        started = time.perf_counter()
        self.session.load(model, LoadOptions(n_ctx=n_ctx, n_threads=threads))
        self.loop.exec()
        self.load_s = time.perf_counter() - started  # starting the host included
        if self.session.model is None:
            raise SystemExit(f"could not load {model}")
        self.answer_id = 0

    def send(self, messages: list[dict], sampling: SamplingOptions) -> Reply:
        """Ask, as the page does: the reply's chunks go to ``on_token``; ``loop`` quits at
        its end."""
        reply = self.session.send(messages, sampling)
        reply.token.connect(self.on_token)
        reply.ended.connect(self.loop.quit)
        return reply

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
