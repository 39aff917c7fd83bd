"""The answer Chat is writing: asked of the session as one ``Reply``, its words streamed into
the transcript and the chat file, its figures shown and kept, its speed recorded for the
estimates; what it wrote is saved as stopped when the page leaves it (another chat opened, the
window closed), and nothing it still sends reaches the page after that.

The chat file is written behind, on its writer's thread: ``token`` and ``finished`` announce
the answer once the file has it, a moment after the transcript shows it.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from app.core.chats.history import ChatHistory
from app.core.inference.speed_record import record_answer
from app.core.inference.types import GenerationStats, SamplingOptions
from app.ui.chat.figures import FiguresLine, answer_record, shown_message
from app.ui.chat.transcript import Transcript
from app.ui.common.tasks import run_task
from app.ui.session.reply import Reply
from app.ui.session.session import ChatSession

log = logging.getLogger("hearth.ui.chat")


class _OnDisk(QObject):
    """The chat writer's thread -> the GUI thread: the answer as it reaches the disk."""

    token = Signal(str)
    finished = Signal(object)  # GenerationStats


class ChatAnswer(QObject):
    token = Signal(str)  # on disk
    finished = Signal(object)  # GenerationStats, on disk
    ended = Signal()  # finished and kept: the chat shows it as its last answer
    failed = Signal(str)  # kept, marked as interrupted; the message says why
    context_full = Signal(int, int)  # used, limit: the answer was not kept
    reply_changed = Signal()  # a reply began or ended: Stop follows

    def __init__(
        self,
        session: ChatSession,
        store: ChatHistory,
        transcript: Transcript,
        figures: FiguresLine,
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.session, self.store = session, store
        self.transcript, self.figures = transcript, figures
        self.reply: Reply | None = None  # while it runs
        self.answer_id: int | None = None  # the message being written
        self.chat_id = 0
        self._on_disk = _OnDisk(self)
        self._on_disk.token.connect(self.token)
        self._on_disk.finished.connect(self.finished)

    @property
    def writing(self) -> bool:
        return self.answer_id is not None

    def start(
        self,
        chat_id: int,
        history: list[dict[str, Any]],
        sampling: SamplingOptions,
        drop_oldest: bool = False,
    ) -> None:
        """Ask for the answer to ``history``, written as chat ``chat_id``'s next message."""
        self.chat_id = chat_id
        self.answer_id = self.store.begin_answer(chat_id)
        self.transcript.begin_answer(self.answer_id)
        self.figures.thinking()
        reply = self.session.send(history, sampling, drop_oldest)
        reply.token.connect(self._on_token)
        reply.finished.connect(self._on_finished)
        reply.failed.connect(self._on_failed)
        reply.context_full.connect(self._on_context_full)
        reply.ended.connect(self._on_reply_ended)
        self.reply = reply
        self.reply_changed.emit()

    def stop(self) -> None:
        """Stop the answer (an API client's goes on); it ends as stopped, kept."""
        if self.reply is not None:
            self.reply.stop()

    def drop(self, keep: bool) -> None:
        """Stop the answer and forget it: nothing it still sends reaches the page. With
        ``keep``, what it wrote so far is saved as a stopped answer."""
        reply, self.reply = self.reply, None
        if reply is None:
            return
        reply.stop()
        for signal in (reply.token, reply.finished, reply.failed, reply.context_full, reply.ended):
            signal.disconnect()
        if keep:
            self.keep_as_stopped()
        self.answer_id = None
        self.reply_changed.emit()

    def keep_as_stopped(self) -> None:
        """What was written is saved as a stopped answer (the window closes mid-answer)."""
        if self.answer_id is not None:
            self.store.finish_answer(self.answer_id, {"stop_reason": "user"}, "user")
            self.answer_id = None

    @Slot(object)
    def _on_reply_ended(self, reply: Reply) -> None:
        if reply is self.reply:
            self.reply = None
            self.reply_changed.emit()

    @Slot(str)
    def _on_token(self, text: str) -> None:
        if self.answer_id is None:
            return
        self.figures.first_words()
        token = self._on_disk.token
        self.store.append_to_answer(self.answer_id, text, lambda: token.emit(text))
        self.transcript.append_to_answer(text)

    @Slot(object)
    def _on_finished(self, stats: GenerationStats) -> None:
        if self.answer_id is None:
            return
        record = answer_record(stats)
        finished = self._on_disk.finished
        message = self.store.finish_answer(
            self.answer_id, record, stats.stop_reason, lambda: finished.emit(stats)
        )
        self.answer_id = None
        model = self.session.model
        # A data point for the speed estimates: a small JSON file written with fsync, so off the
        # GUI thread (a slow disk would stall the window at the end of every answer).
        run_task(
            lambda: record_answer(model, stats),
            lambda _run: None,
            lambda problem: log.info("Speed not recorded: %s", problem),
            self,
        )
        self.transcript.finish_answer(shown_message(message, last_answer=True))
        self.figures.show_figures(record)
        if stats.context_size:
            self.figures.show_context(stats.context_size, stats.context_used)
        elif stats.prompt_tokens:
            self.figures.show_remote(stats.prompt_tokens)
        self.ended.emit()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        """The answer failed (the model's process may have died): what was written is kept,
        marked as interrupted."""
        if self.answer_id is None:
            return
        self.store.finish_answer(self.answer_id, {"stop_reason": "error"}, "error")
        self.answer_id = None
        self.failed.emit(message)

    @Slot(int, int)
    def _on_context_full(self, used: int, limit: int) -> None:
        """The chat does not fit the model's context: the answer begun is taken away."""
        if self.answer_id is None:
            return
        answer = self.store.get_message(self.answer_id)
        self.store.truncate_after(self.chat_id, answer.position - 1)
        self.answer_id = None
        self.context_full.emit(used, limit)
