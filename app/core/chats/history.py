"""The chats as the studio shows them, kept in memory ahead of the disk.

Why: every change the window made used to be a SQLite transaction on the GUI thread, and
another program holding the write lock (a backup, ``sqlite3`` in a terminal) froze the window
for up to 10 s. ``ChatHistory`` changes its own copy at once and queues the same change for a
``Writer`` thread (``app.core.storage.writer``), which writes it in order, retries while the
file is locked or the disk is full (said once in the banner; the change stays in memory) and,
at quit, keeps what it could not write in a journal beside the history (``chats.sqlite3.unsaved``)
that the next start writes before anything else.

Ids: new chats and messages get their ids here (above every id on disk at start), so the window
can use them before the rows exist. This assumes no other program adds chats to the same file
meanwhile: a second Hearth on the same data is refused at start (``app.ui.single_instance``).

What is read when: the list of chats at start; a chat's messages when it is first opened
(``read_messages`` runs in the background and ``accept_messages`` takes its result; the start's
last chat is read at once, ``messages``); a search's matches on disk in the background
(``find``). A chat whose messages are in memory is never read again, so a read never misses a
change still queued. Used from one thread (the GUI's); only the writer thread touches the disk
for changes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.core.chats.store import DEFAULT_TITLE, ROLES, Chat, ChatStore, Message, one_line_title
from app.core.common.errors import ChatStoreError
from app.core.storage.writer import (
    Closed,
    Job,
    Writer,
    forget_journal,
    keep_journal_aside,
    take_journal,
)

log = logging.getLogger("hearth.chats")

# The store's methods a queued (or journaled) job may call: its changes, nothing else.
_OPS = frozenset(
    {
        "create_chat",
        "rename_chat",
        "update_chat",
        "delete_chat",
        "add_message",
        "edit_message",
        "truncate_after",
        "begin_answer",
        "append_to_answer",
        "finish_answer",
    }
)
# A try waits this long for another program's lock, then the writer waits and tries again, so
# that at quit the thread stops within about this time with nothing half-written.
WRITER_BUSY_TIMEOUT_S = 0.2
_PASSING = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY")


def may_pass(exc: BaseException) -> bool:
    """Whether a failed write may succeed later: the file locked, the disk full or failing.
    Not: a row that is not there, a duplicate id (a journaled change already written)."""
    cause = exc.__cause__ if isinstance(exc, ChatStoreError) else exc
    name = getattr(cause, "sqlite_errorname", "") or ""
    return isinstance(cause, sqlite3.OperationalError) and name.startswith(_PASSING)


def journal_of(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".unsaved")


class ChatHistory:
    """The chat history in memory, written behind by its own thread (module docstring)."""

    def __init__(self, store: ChatStore, retry_wait_s: float = 0.5) -> None:
        self.store = store
        self.saved = store.saved
        self.journal = journal_of(store.path)
        notices = [store.notice] if store.notice else []
        notices += self._write_journal()
        self.notice = " ".join(notices)
        self._chats = {chat.id: chat for chat in store.list_chats()}
        self._messages: dict[int, list[Message]] = {}
        self._next_chat, self._next_message = store.next_ids()
        store.set_busy_timeout(WRITER_BUSY_TIMEOUT_S)
        self._writer = Writer(
            self._apply,
            name="chats",
            retryable=may_pass,
            journal=self.journal if store.saved else None,
            retry_wait_s=retry_wait_s,
        )

    @property
    def on_trouble(self) -> Callable[[str], None] | None:
        """Called (on the writer thread) with one sentence when writing starts failing."""
        return self._writer.on_trouble

    @on_trouble.setter
    def on_trouble(self, callback: Callable[[str], None] | None) -> None:
        self._writer.on_trouble = callback

    # -- the disk ------------------------------------------------------------------------

    def _apply(self, job: Job) -> object:
        if job.op not in _OPS:
            raise ChatStoreError(f"Unknown change {job.op!r} skipped.")
        return getattr(self.store, job.op)(**job.args)

    def _queue(self, op: str, then: Callable[[], None] | None = None, /, **args: object) -> None:
        """Hand the change to the writer; ``then()`` runs on its thread once it is written
        (positional only: a change's own fields go by name)."""
        future = self._writer.submit(Job(op, args))
        if then is not None:
            future.add_done_callback(
                lambda done: then() if not done.cancelled() and done.exception() is None else None
            )

    def _write_journal(self) -> list[str]:
        """Write the changes the last session kept aside at quit; what to tell the user."""
        taken = take_journal(self.journal)
        notes = []
        if taken.skipped:
            notes.append(self._damaged_note(taken.skipped, taken.kept_as))
        if not self.store.saved:
            return notes
        jobs, refused = taken.jobs, 0
        for done, job in enumerate(jobs):
            if job.op not in _OPS:
                log.error("Kept change %r is not one Hearth makes", job.op)
                refused += 1
                continue
            try:
                self._apply(job)
            except ChatStoreError as exc:
                if may_pass(exc):
                    log.error("Kept changes not written yet: %s", exc)
                    return [
                        *notes,
                        f"{len(jobs) - done} change(s) kept when Hearth last closed still "
                        f"cannot be written ({exc}); they stay in {self.journal.name} for the "
                        f"next start.",
                    ]
                log.warning("Kept change %s skipped: %s", job.op, exc)  # already written
            except (TypeError, ValueError, AttributeError) as exc:
                log.error("Kept change %s is not one Hearth makes: %s", job.op, exc)
                refused += 1
        if refused and not taken.kept_as and self.journal.is_file():
            notes.append(self._damaged_note(refused, keep_journal_aside(self.journal)))
        if self.journal.is_file():
            forget_journal(self.journal)
        if jobs:
            log.info("%d change(s) kept at the last quit were written", len(jobs))
            notes.append(
                f"{len(jobs)} change(s) to your chats that were not yet written when Hearth "
                f"last closed were saved now."
            )
        return notes

    @staticmethod
    def _damaged_note(count: int, kept_as: Path | None) -> str:
        kept = f"; the file is kept as {kept_as.name}" if kept_as else ""
        return (
            f"{count} change(s) kept when Hearth last closed were damaged and could not be "
            f"written{kept}."
        )

    @property
    def pending(self) -> int:
        """Changes not written yet."""
        return self._writer.pending

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until the changes made so far are written; False on timeout."""
        return self._writer.flush(timeout_s)

    def close(self, timeout_s: float = 3.0) -> Closed:
        """Write what is queued (waiting at most about ``timeout_s``), keep the rest in the
        journal, close the store. The result says whether anything was lost."""
        closed = self._writer.close(timeout_s)
        self.store.close()
        return closed

    def __enter__(self) -> ChatHistory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading (memory, or a read to run in the background) ----------------------------

    def get_chat(self, chat_id: int) -> Chat:
        try:
            return self._chats[chat_id]
        except KeyError:
            raise ChatStoreError("That chat no longer exists.") from None

    def list_chats(self, search: str = "") -> list[Chat]:
        """Chats, most recently active first; ``search`` words must all appear in the title,
        or all in one message held in memory (``find`` also looks on disk)."""
        ids = self._matching_here(search.split()) if search.split() else set(self._chats)
        return self.in_order(ids)

    def in_order(self, ids: set[int]) -> list[Chat]:
        """The chats with ``ids`` that still exist, most recently active first."""
        chats = [self._chats[i] for i in ids if i in self._chats]
        return sorted(chats, key=lambda chat: (chat.updated_at, chat.id), reverse=True)

    def _matching_here(self, terms: list[str]) -> set[int]:
        def has_all(text: str) -> bool:
            folded = text.casefold()
            return all(term.casefold() in folded for term in terms)

        found = {chat.id for chat in self._chats.values() if has_all(chat.title)}
        for chat_id, messages in self._messages.items():
            if any(has_all(m.content) for m in messages):
                found.add(chat_id)
        return found

    def find(self, search: str) -> Callable[[], set[int]]:
        """A read for the background: the ids of the chats matching ``search`` on disk (FTS5
        word prefixes) or in memory; give them to ``in_order``."""
        here = self._matching_here(search.split())
        store = self.store
        return lambda: here | {chat.id for chat in store.list_chats(search)}

    def loaded(self, chat_id: int) -> bool:
        return chat_id in self._messages

    def read_messages(self, chat_id: int) -> Callable[[], list[Message]]:
        """A read for the background: the chat's messages on disk, for ``accept_messages``."""
        store = self.store
        return lambda: store.messages(chat_id)

    def accept_messages(self, chat_id: int, messages: list[Message]) -> None:
        """Keep what ``read_messages`` read, unless the chat is gone or already in memory."""
        if chat_id in self._chats and chat_id not in self._messages:
            self._messages[chat_id] = list(messages)

    def messages(self, chat_id: int) -> list[Message]:
        """The chat's messages in order. One not in memory yet is read here and now: the
        start's last chat and the command line; the window reads others in the background."""
        if chat_id not in self._chats:
            return []
        if chat_id not in self._messages:
            self.accept_messages(chat_id, self.store.messages(chat_id))
        return list(self._messages[chat_id])

    def get_message(self, message_id: int) -> Message:
        return self._find(message_id)[2]

    def _find(self, message_id: int) -> tuple[list[Message], int, Message]:
        """The message's chat list, its index there and the message. Searched from the end:
        the answer being streamed is the last message, found at once for every token."""
        for messages in self._messages.values():
            for index in range(len(messages) - 1, -1, -1):
                if messages[index].id == message_id:
                    return messages, index, messages[index]
        raise ChatStoreError("That message no longer exists.")

    # -- changes (memory now, the disk behind) -------------------------------------------

    def create_chat(
        self, title: str = DEFAULT_TITLE, model: str = "", system_prompt: str = ""
    ) -> Chat:
        chat_id, self._next_chat = self._next_chat, self._next_chat + 1
        now = time.time()
        title = " ".join(title.split()) or DEFAULT_TITLE
        chat = Chat(chat_id, title, now, now, model, system_prompt, "{}")
        self._chats[chat_id], self._messages[chat_id] = chat, []
        self._queue(
            "create_chat", title=title, model=model, system_prompt=system_prompt, chat_id=chat_id
        )
        return chat

    def _set_chat(self, chat_id: int, **changes: object) -> Chat:
        chat = dataclasses.replace(self.get_chat(chat_id), **changes)  # type: ignore[arg-type]
        self._chats[chat_id] = chat
        return chat

    def rename_chat(self, chat_id: int, title: str) -> Chat:
        """Set the title (one line; an empty title becomes the default)."""
        chat = self._set_chat(chat_id, title=" ".join(title.split()) or DEFAULT_TITLE)
        self._queue("rename_chat", chat_id=chat_id, title=chat.title)
        return chat

    def update_chat(
        self,
        chat_id: int,
        *,
        model: str | None = None,
        system_prompt: str | None = None,
        settings_json: str | None = None,
    ) -> Chat:
        """Change the fields given (None leaves a field as it is)."""
        if settings_json is not None and not isinstance(json.loads(settings_json), dict):
            raise ValueError("settings_json must hold a JSON object")
        given = {"model": model, "system_prompt": system_prompt, "settings_json": settings_json}
        changes = {key: value for key, value in given.items() if value is not None}
        chat = self._set_chat(chat_id, **changes)
        if changes:
            self._queue("update_chat", chat_id=chat_id, **changes)
        return chat

    def delete_chat(self, chat_id: int) -> None:
        """Delete a chat with all its messages."""
        self._chats.pop(chat_id, None)
        self._messages.pop(chat_id, None)
        self._queue("delete_chat", chat_id=chat_id)

    def auto_title(self, chat_id: int, replacing: str | None = None) -> Chat:
        """Title the chat after its first user message, if it still has the default title, or
        the title made from ``replacing`` (a message's text before the user edited it)."""
        chat = self.get_chat(chat_id)
        first = next((m for m in self.messages(chat_id) if m.role == "user"), None)
        title = one_line_title(first.content) if first else ""
        made_from_old = replacing is not None and chat.title == one_line_title(replacing)
        if not title or title == chat.title or (chat.title != DEFAULT_TITLE and not made_from_old):
            return chat
        return self.rename_chat(chat_id, title)

    def _touch(self, chat_id: int) -> None:
        self._set_chat(chat_id, updated_at=time.time())

    def _new_message(
        self, chat_id: int, role: str, content: str, complete: bool, images: tuple[str, ...] = ()
    ) -> Message:
        messages = self._loaded_for_change(chat_id)
        message_id, self._next_message = self._next_message, self._next_message + 1
        position = messages[-1].position + 1 if messages else 0
        message = Message(
            message_id, chat_id, role, content, time.time(), position, "{}", complete, images
        )
        messages.append(message)
        self._touch(chat_id)
        return message

    def _loaded_for_change(self, chat_id: int) -> list[Message]:
        self.get_chat(chat_id)
        if chat_id not in self._messages:
            self.messages(chat_id)
        return self._messages[chat_id]

    def add_message(
        self,
        chat_id: int,
        role: str,
        content: str,
        complete: bool = True,
        images: Sequence[str] = (),
    ) -> Message:
        """Add a message at the end of the chat, with ``images`` (data URLs) after its text."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        message = self._new_message(chat_id, role, content, complete, tuple(images))
        extra = {"images": list(images)} if images else {}  # journals of before stay valid
        self._queue(
            "add_message",
            chat_id=chat_id,
            role=role,
            content=content,
            complete=complete,
            message_id=message.id,
            **extra,
        )
        return message

    def _replace_message(self, message_id: int, **changes: object) -> Message:
        messages, index, message = self._find(message_id)
        changed = dataclasses.replace(message, **changes)  # type: ignore[arg-type]
        messages[index] = changed
        return changed

    def edit_message(self, message_id: int, content: str) -> Message:
        """Replace a message's text (an answer being streamed loses its pieces)."""
        edited = self._replace_message(message_id, content=content)
        self._touch(edited.chat_id)
        self._queue("edit_message", message_id=message_id, content=content)
        return edited

    def truncate_after(self, chat_id: int, position: int) -> int:
        """Delete the chat's messages after ``position``; returns how many were deleted."""
        messages = self._loaded_for_change(chat_id)
        kept = [m for m in messages if m.position <= position]
        removed = len(messages) - len(kept)
        if removed:
            self._messages[chat_id] = kept
            self._touch(chat_id)
            self._queue("truncate_after", chat_id=chat_id, position=position)
        return removed

    def begin_answer(self, chat_id: int) -> int:
        """Start an empty, incomplete assistant message; returns its id."""
        message = self._new_message(chat_id, "assistant", "", complete=False)
        self._queue("begin_answer", chat_id=chat_id, message_id=message.id)
        return message.id

    def append_to_answer(
        self, message_id: int, text: str, then: Callable[[], None] | None = None
    ) -> None:
        """Add text to an answer being streamed; ``then()`` runs on the writer's thread once
        the text is on disk. Raises ChatStoreError when the answer was deleted or already
        finished."""
        if not text:
            return
        try:
            message = self.get_message(message_id)
        except ChatStoreError:
            message = None
        if message is None or message.complete:
            raise ChatStoreError("The answer being written was deleted or is finished.")
        self._replace_message(message_id, content=message.content + text)
        self._queue("append_to_answer", then, message_id=message_id, text=text)

    def finish_answer(
        self,
        message_id: int,
        stats: dict[str, Any] | None = None,
        stop_reason: str = "",
        then: Callable[[], None] | None = None,
    ) -> Message:
        """Mark the answer complete; ``stats`` (plus ``stop_reason``) go to stats_json;
        ``then`` as in ``append_to_answer``."""
        record = dict(stats or {})
        if stop_reason:
            record["stop_reason"] = stop_reason
        finished = self._replace_message(message_id, complete=True, stats_json=json.dumps(record))
        self._touch(finished.chat_id)
        self._queue(
            "finish_answer", then, message_id=message_id, stats=record, stop_reason=stop_reason
        )
        return finished
