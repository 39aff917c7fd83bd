"""Export a chat to Markdown or JSON (``app.core.chats.export``), off the GUI thread.

A chat not opened is read from the disk on the pool too, so a locked or slow disk never freezes
the window; a failure is said in the banner; the file appears when the task is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from app.core.chats import export
from app.core.chats.history import ChatHistory
from app.core.chats.store import Message
from app.ui.common.banner import show_error
from app.ui.common.tasks import TaskHandle, run_task

log = logging.getLogger("hearth.ui.chat")


def export_chat(view: QWidget, store: ChatHistory, chat_id: int, path: Path) -> TaskHandle:
    """Write chat ``chat_id`` to ``path`` (its suffix picks the format); errors go to
    ``view``'s banner, and the task ends with ``view``."""
    chat = store.get_chat(chat_id)
    if store.loaded(chat_id):
        held = store.messages(chat_id)  # a copy: later changes do not reach the job
        read: Callable[[], list[Message]] = lambda: held  # noqa: E731
    else:
        read = store.read_messages(chat_id)
    target = Path(path)
    return run_task(
        lambda: export.write(chat, read(), target),
        lambda written: log.info("Exported chat %d to %s", chat_id, written),
        lambda problem: show_error(view, problem),
        view,
        name="Export chat",
    )


def ask_and_export(view: QWidget, store: ChatHistory, chat_id: int) -> None:
    """Ask where to save chat ``chat_id`` (its title the name), then export it there."""
    title = store.get_chat(chat_id).title
    path, _ = QFileDialog.getSaveFileName(
        view, "Export chat", f"{title}.md", "Markdown (*.md);;JSON (*.json)"
    )
    if path:
        export_chat(view, store, chat_id, Path(path))
