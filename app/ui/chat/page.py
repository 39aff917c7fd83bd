"""Chat: saved conversations with a local or remote model, streamed answers, stop, regenerate,
edit.

The page never waits on the chat file: it changes the ``ChatHistory`` in memory, which writes
behind on its own thread; a chat not in memory yet is read in the background when opened (Send
waits for it, the text typed is kept), the start's last chat at once; a write that keeps
failing is said once in the window's banner.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.chats import export
from app.core.chats.history import ChatHistory
from app.core.chats.store import Message
from app.core.common.markdown import code_blocks
from app.core.config import limits
from app.core.config.presets import ModelSettings
from app.core.config.settings import Settings
from app.core.inference.model_choice import ModelChoice
from app.core.inference.remote import ConnectionStore
from app.core.inference.speed_record import record_answer
from app.core.inference.types import GenerationStats, SamplingOptions
from app.ui.chat.composer import TEXT_ONLY, Attachments, ImageIntake, MessageBox, message_content
from app.ui.chat.connections_dialog import ConnectionsDialog
from app.ui.chat.list_model import ChatListModel
from app.ui.chat.model_control import ChatModelControl
from app.ui.chat.settings_panel import ChatSettingsPanel
from app.ui.chat.sidebar import ChatSidebar
from app.ui.chat.transcript import ShownMessage, Transcript
from app.ui.chat.welcome import Welcome
from app.ui.common.banner import show_error
from app.ui.common.confirm import ask_yes_no
from app.ui.common.elided_label import ElidedLabel
from app.ui.common.tasks import TaskHandle, run_task
from app.ui.my_models.library_model import LibraryModel
from app.ui.session.reply import Reply
from app.ui.session.session import ChatSession

log = logging.getLogger("hearth.ui.chat")
REASONS = {"stop": "finished", "length": "max tokens reached", "user": "stopped", "error": "failed"}


def stats_line(stats: dict) -> str:
    if not stats or "tokens" not in stats:
        return ""
    return (
        f"{stats.get('tok_s', 0):.1f} tok/s · first token {stats.get('ttft_s', 0):.2f} s · "
        f"{stats['tokens']} tokens · {REASONS.get(stats.get('stop_reason') or '', '')}"
    )


class _FromWriter(QObject):
    """The chat writer's thread -> the GUI thread: a sentence for the banner, and the page's
    answer as it reaches the disk."""

    said = Signal(str)
    token = Signal(str)
    finished = Signal(object)  # GenerationStats


class ChatPage(QWidget):
    # The page's own answers (never an API client's), once the chat file has them (written
    # behind: a moment after the transcript shows them).
    answer_token = Signal(str)
    answer_finished = Signal(object)  # GenerationStats
    answer_failed = Signal(str)
    answer_context_full = Signal(int, int)

    def __init__(
        self,
        session: ChatSession,
        library: LibraryModel,
        settings: Settings,
        store: ChatHistory,
        confirm: Callable[[QWidget, str], bool] = ask_yes_no,
        *,
        connections: ConnectionStore,  # the window's Services': the page opens no store
    ) -> None:
        super().__init__()
        self.session, self.library, self.settings, self.store = session, library, settings, store
        self.connections = connections
        self.confirm = confirm
        self.chat_id = 0
        self.answer_id: int | None = None
        self.reply: Reply | None = None  # the answer being written, while it runs
        self.editing_id: int | None = None
        self.opening = 0  # a chat being read in the background, shown once it is read
        self._written = _FromWriter(self)
        self._written.said.connect(self._on_store_trouble)
        self._written.token.connect(self.answer_token)
        self._written.finished.connect(self.answer_finished)
        store.on_trouble = self._written.said.emit

        self.chats = ChatListModel(store, self)
        self.sidebar = ChatSidebar(self.chats)
        self.panel = ChatSettingsPanel(library.adapters)  # the scan's LoRA adapters
        self.panel.setVisible(False)
        self.transcript = Transcript()
        self._build_center()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sidebar)
        layout.addLayout(self.center, 1)
        layout.addWidget(self.panel)

        self.settings_button.toggled.connect(self.show_settings)
        self.sidebar.chat_selected.connect(self.open_chat)
        self.sidebar.new_requested.connect(self.new_chat)
        self.sidebar.delete_requested.connect(self.delete_chat)
        self.sidebar.export_requested.connect(self._export_dialog)
        self.transcript.action.connect(self._on_action)
        self.panel.changed.connect(self._save_system_prompt)
        session.busy_changed.connect(self._on_busy)

        self.model_box.refresh_remote()
        self.chats.reload()
        if settings.last_chat and self.chats.row_of(settings.last_chat) >= 0:
            store.messages(settings.last_chat)  # read now, as the list was: shown at first paint
            self.open_chat(settings.last_chat)

    def _build_center(self) -> None:
        self.notice = QLabel(objectName="note", wordWrap=True)
        self.notice_yes = QPushButton()
        self.notice_no = QPushButton()
        self.notice_yes.clicked.connect(self._notice_accepted)
        self.notice_no.clicked.connect(self._notice_dismissed)
        self._notice_kind = ""

        self.input = MessageBox()
        self.input.setPlaceholderText("Type a message. Enter sends, Shift+Enter starts a new line.")
        self.input.setFixedHeight(86)
        self.input.installEventFilter(self)
        self.send_button = QPushButton("Send", objectName="primary")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop", enabled=False)
        self.stop_button.clicked.connect(self.stop_answer)
        # One line, elided, whole in its tooltip: unwrapped beside the context meter it widened
        # a 1024-px window; wrapped to two lines it squeezed Send, Stop and Image... over each
        # other beside the downloads dock (issue 19)
        self.stats_label = ElidedLabel("", objectName="hint")
        self.context_meter = QLabel("", objectName="hint")
        self.context_meter.setMinimumWidth(230)
        self.context_meter.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.models = ChatModelControl(
            self.session,
            self.library,
            self.settings,
            self.connections,
            self.panel,
            self.context_meter,
            self._chat_system_prompt,
            self,
        )
        models = self.models  # its widgets, under the names the page has always had
        self.model_box, self.model_status = models.picker, models.status
        self.settings_button = models.settings_button
        self.load_bar, self.cancel_load_button = models.load_bar, models.cancel_load_button
        self.attachments = Attachments()  # images waiting for Send, above the message box
        self.images = ImageIntake(self.session, self.input, self.attachments, self)

        top = QHBoxLayout()
        top.addWidget(QLabel("Chat", objectName="pageTitle"))
        top.addStretch(1)
        top.addWidget(self.model_box)
        top.addWidget(self.settings_button)
        status = QHBoxLayout()
        status.addWidget(self.model_status, 1)
        status.addWidget(self.load_bar)
        status.addWidget(self.cancel_load_button)
        notice = QHBoxLayout()
        notice.addWidget(self.notice, 1)
        notice.addWidget(self.notice_yes)
        notice.addWidget(self.notice_no)
        self._hide_notice()
        meters = QHBoxLayout()
        meters.addWidget(self.stats_label, 1)
        meters.addWidget(self.context_meter)
        buttons = QVBoxLayout()
        buttons.setSpacing(4)  # three buttons beside the message box, in a 640-px window too
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.images.attach_button)
        composer = QHBoxLayout()
        composer.addWidget(self.input, 1)
        composer.addLayout(buttons)
        self.center = QVBoxLayout()
        self.center.setContentsMargins(16, 14, 16, 14)
        for part in (top, status):
            self.center.addLayout(part)
        self.welcome = Welcome(self.transcript, self.input)  # while the chat has no message
        self.center.addWidget(self.welcome, 1)
        self.center.addWidget(self.transcript, 1)
        for part in (notice, meters):
            self.center.addLayout(part)
        self.center.addWidget(self.attachments)
        self.center.addLayout(composer)

    @Slot(bool)
    def show_settings(self, on: bool) -> None:
        """Show or hide the settings panel. Where the chat list, the chat and the panel do
        not fit side by side (a 1024-px window), the chat list steps aside while the panel is
        open: the panel used to widen the window to 1417 px, past a laptop's screen."""
        if on:  # room first, then the panel: the other order widened the window for a moment
            self._make_room(True)
            self.panel.show()
        else:
            self.panel.hide()
            self._make_room(False)

    def _make_room(self, panel_shown: bool) -> None:
        needed = self.sidebar.width() + self.center.minimumSize().width() + self.panel.width()
        self.sidebar.setVisible(not panel_shown or self.width() >= needed)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.panel.isVisible():
            self._make_room(True)

    # -- models (held by ChatModelControl) ------------------------------------------------
    @property
    def connections_dialog(self) -> ConnectionsDialog | None:
        return self.models.connections_dialog

    def current_model_path(self) -> str:
        return self.models.current_model_path()

    def current_model_key(self) -> str:
        return self.models.current_model_key()

    def active_model_key(self) -> str:
        return self.models.active_model_key()

    def has_model(self) -> bool:
        return self.models.has_model()

    def model_settings(self, path: str | None = None) -> ModelSettings:
        return self.models.model_settings(path)

    def select_model(self, path: str) -> None:
        self.models.select_model(path)

    def reload_model(self) -> None:
        self.models.reload_model()

    def use_remote(self, choice: ModelChoice) -> None:
        self.models.use_remote(choice)

    def open_connections(self) -> ConnectionsDialog:
        return self.models.open_connections()

    def save_model_defaults(self) -> None:
        self.models.save_model_defaults()

    # -- chats ----------------------------------------------------------------------------
    @Slot(int)
    def open_chat(self, chat_id: int) -> None:
        self._drop_reply(keep=True)  # another chat on screen: the answer stops where it is
        self.chat_id = chat_id
        self.settings.last_chat = chat_id
        self.editing_id = None
        self._hide_notice()
        chat = self.store.get_chat(chat_id)
        self.panel.show_settings(self.model_settings(), chat.system_prompt)
        self.sidebar.select(chat_id)
        if self.store.loaded(chat_id):
            self.opening = 0
            self._render_chat()
            return
        self.opening = chat_id
        self.transcript.show_messages([])
        run_task(
            self.store.read_messages(chat_id),
            lambda messages: self._on_chat_read(chat_id, messages),
            lambda problem: self._on_chat_unread(chat_id, problem),
            self,
        )

    def _on_chat_read(self, chat_id: int, messages: list[Message]) -> None:
        self.store.accept_messages(chat_id, messages)
        if chat_id == self.opening == self.chat_id:
            self.opening = 0
            self._render_chat()

    def _on_chat_unread(self, chat_id: int, problem: str) -> None:
        if chat_id == self.opening:
            self.opening = 0  # Send works again: the chat's messages are read then
        show_error(self, problem)

    @Slot(str)
    def _on_store_trouble(self, message: str) -> None:
        show_error(self, message)

    def _render_chat(self) -> None:
        messages = self.store.messages(self.chat_id) if self.chat_id else []
        last_answer = max((m.id for m in messages if m.role == "assistant"), default=None)
        self.transcript.show_messages([self._shown(m, m.id == last_answer) for m in messages])
        used = [json.loads(m.stats_json or "{}").get("context_used") for m in messages]
        used = [u for u in used if u]
        if used and self.session.model:
            self.context_meter.setText(f"used {used[-1]:,} of {self.session.model.n_ctx:,} tokens")
        elif self.session.model and self.session.model.n_ctx:
            self.context_meter.setText(f"context: {self.session.model.n_ctx:,} tokens")
        # The figures of this chat's last answer: a new chat kept the last chat's (another
        # model's "78.6 tok/s" under an empty chat, issue 19). Send and Regenerate set
        # "Thinking..." after this.
        last = next((m for m in reversed(messages) if m.role == "assistant"), None)
        self.stats_label.setText(stats_line(json.loads(last.stats_json or "{}")) if last else "")

    @staticmethod
    def _shown(m: Message, last_answer: bool = False) -> ShownMessage:
        stats = json.loads(m.stats_json or "{}")
        return ShownMessage(
            m.id,
            m.role,
            m.content,
            stats_line(stats),
            interrupted=m.role == "assistant"
            and (not m.complete or stats.get("stop_reason") == "error"),
            last_answer=last_answer,
            images=m.images,
        )

    @Slot()
    def new_chat(self) -> int:
        shown = self.panel.settings()  # what the user set before the first message is kept
        chat = self.store.create_chat(
            model=self.active_model_key() or self.current_model_key(),
            system_prompt=self.panel.system_prompt_text(),
        )
        self.open_chat(chat.id)
        self.panel.show_settings(shown, chat.system_prompt)
        self.input.setFocus()
        return chat.id

    @Slot(int)
    def delete_chat(self, chat_id: int) -> None:
        title = self.store.get_chat(chat_id).title
        if not self.confirm(self, f"Delete the chat '{title}'? This cannot be undone."):
            return
        if chat_id == self.chat_id:
            self._drop_reply(keep=False)  # its late tokens must not reach a deleted chat
            self.chat_id = self.opening = 0
            self.transcript.show_messages([])  # also ends the streamed answer's view
        self.store.delete_chat(chat_id)
        self.sidebar.select(self.chat_id)

    @Slot()
    def _save_system_prompt(self) -> None:
        """Keep the typed system prompt with the chat; one too long to use is said, not saved
        (a pasted 50 MB text used to be written to the chat file at every keystroke)."""
        if not self.chat_id:
            return
        text = self.panel.system_prompt_text()
        try:
            limits.prompt(text)
        except limits.InvalidValue as exc:
            show_error(self, f"{exc} It is not saved; the chat keeps its last one.")
            return
        self.store.update_chat(self.chat_id, system_prompt=text)

    def _chat_system_prompt(self) -> str:
        return (
            self.store.get_chat(self.chat_id).system_prompt
            if self.chat_id
            else (self.settings.system_prompt)
        )

    def export_chat(self, path: Path, chat_id: int | None = None) -> TaskHandle:
        """Write the chat (default: the open one) to ``path`` on the pool: a chat not opened is
        read from the disk there too, so a locked or slow disk never freezes the window. A
        failure is said in the banner; the file appears when the task is done."""
        chat_id = chat_id or self.chat_id
        chat = self.store.get_chat(chat_id)
        if self.store.loaded(chat_id):
            held = self.store.messages(chat_id)  # a copy: later changes do not reach the job
            read: Callable[[], list[Message]] = lambda: held  # noqa: E731
        else:
            read = self.store.read_messages(chat_id)
        target = Path(path)
        return run_task(
            lambda: export.write(chat, read(), target),
            lambda written: log.info("Exported chat %d to %s", chat_id, written),
            lambda problem: show_error(self, problem),
            self,
            name="Export chat",
        )

    @Slot(int)
    def _export_dialog(self, chat_id: int) -> None:
        title = self.store.get_chat(chat_id).title
        path, _ = QFileDialog.getSaveFileName(
            self, "Export chat", f"{title}.md", "Markdown (*.md);;JSON (*.json)"
        )
        if path:
            self.export_chat(Path(path), chat_id)

    # -- sending --------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if (
            watched is self.input
            and event.type() == event.Type.KeyPress
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.send()
            return True
        return super().eventFilter(watched, event)

    @Slot()
    def send(self) -> None:
        text = self.input.toPlainText().strip()
        editing = self.editing_id is not None  # an edit changes the text; images stay pending
        pending = bool(self.attachments.urls()) and not editing
        if not (text or pending) or self.session.busy or self.opening:
            return  # an opening chat is read in a moment: the text stays in the box
        if not self.has_model():
            show_error(self, self.models.why_no_model())
            return
        if self.images.reading and not editing:  # a pasted photo takes a moment to shrink
            show_error(self, "The image is still being prepared: send again in a moment.")
            return
        if pending and not self.images.sees_images():
            show_error(self, TEXT_ONLY)  # the model changed since they were added
            return
        if not self.chat_id:
            self.new_chat()
        self.input.clear()
        replaced = None  # an edited message's old text: a title made from it follows the edit
        if self.editing_id is not None:
            replaced = self.store.get_message(self.editing_id).content
            edited = self.store.edit_message(self.editing_id, text)
            self.store.truncate_after(self.chat_id, edited.position)
            self.editing_id = None
            self._hide_notice()
        else:
            self.store.add_message(self.chat_id, "user", text, images=self.images.take())
        self.store.update_chat(self.chat_id, model=self.active_model_key())
        self.store.auto_title(self.chat_id, replacing=replaced)
        self._render_chat()
        self._generate()

    def _generate(self, drop_oldest: bool = False) -> None:
        # A model that reads text only gets the chat's text: its images are left out.
        sees = self.images.sees_images()
        history = [
            {"role": m.role, "content": message_content(m.content, m.images if sees else ())}
            for m in self.store.messages(self.chat_id)
        ]
        system = self._chat_system_prompt()
        if system:
            history.insert(0, {"role": "system", "content": system})
        self.answer_id = self.store.begin_answer(self.chat_id)
        self.transcript.begin_answer(self.answer_id)
        self.stats_label.setText("Thinking...")
        reply = self.session.send(history, self._sampling(), drop_oldest)
        reply.token.connect(self._on_token)
        reply.finished.connect(self._on_finished)
        reply.failed.connect(self._on_failed)
        reply.context_full.connect(self._on_context_full)
        reply.ended.connect(self._on_reply_ended)
        self.reply = reply
        self._on_busy(self.session.busy)
        self.sidebar.select(self.chat_id)

    @Slot()
    def stop_answer(self) -> None:
        """Stop the page's own answer (an API client's goes on)."""
        if self.reply is not None:
            self.reply.stop()

    def _drop_reply(self, keep: bool) -> None:
        """Stop the answer and forget it: nothing it still sends reaches the page. With
        ``keep``, what it wrote so far is saved as a stopped answer."""
        reply, self.reply = self.reply, None
        if reply is None:
            return
        reply.stop()
        for signal in (reply.token, reply.finished, reply.failed, reply.context_full, reply.ended):
            signal.disconnect()
        if keep and self.answer_id is not None:
            self.store.finish_answer(self.answer_id, {"stop_reason": "user"}, "user")
        self.answer_id = None
        self._on_busy(self.session.busy)
        self._on_busy(self.session.busy)

    @Slot(object)
    def _on_reply_ended(self, reply: Reply) -> None:
        if reply is self.reply:
            self.reply = None
            self._on_busy(self.session.busy)

    def _sampling(self) -> SamplingOptions:
        return SamplingOptions.of(self.panel.settings().sampling)

    @Slot(str)
    def _on_token(self, text: str) -> None:
        if self.answer_id is None:
            return
        if self.stats_label.text() == "Thinking...":  # the first words are here
            self.stats_label.setText("Answering...")
        token = self._written.token
        self.store.append_to_answer(self.answer_id, text, lambda: token.emit(text))
        self.transcript.append_to_answer(text)

    @Slot(object)
    def _on_finished(self, stats: GenerationStats) -> None:
        if self.answer_id is None:
            return
        record = {
            "tokens": stats.tokens,
            "tok_s": round(stats.tokens_per_second, 2),
            "ttft_s": round(stats.time_to_first_token_s, 3),
            "prompt_tokens": stats.prompt_tokens,
            "context_used": stats.context_used,
            "stop_reason": stats.stop_reason,
        }
        finished = self._written.finished
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
        self.transcript.finish_answer(self._shown(message, last_answer=True))
        self.stats_label.setText(stats_line(record))
        if stats.context_size:
            self.context_meter.setText(
                f"used {stats.context_used:,} of {stats.context_size:,} tokens"
            )
        elif stats.prompt_tokens:
            self.context_meter.setText(f"remote model · {stats.prompt_tokens:,} prompt tokens")
            self.context_meter.show()
        self._render_chat()  # moves the Regenerate link to the new last answer

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        """The answer failed (the model's process may have died): what was written is kept,
        marked as interrupted, and the message says why."""
        if self.answer_id is None:
            return
        self.store.finish_answer(self.answer_id, {"stop_reason": "error"}, "error")
        self.answer_id = None
        self._render_chat()
        self.stats_label.setText("")
        show_error(self, message)
        self.answer_failed.emit(message)

    @Slot(int, int)
    def _on_context_full(self, used: int, limit: int) -> None:
        if self.answer_id is None:
            return
        self._discard_answer()
        self._show_notice(
            "context",
            f"This chat needs {used:,} tokens but the model's context holds "
            f"{limit:,}. Drop the oldest turns to continue, or stop here (nothing is deleted).",
            "Drop oldest turns and continue",
            "Stop",
        )
        self.answer_context_full.emit(used, limit)

    def _discard_answer(self) -> None:
        if self.answer_id is not None:
            answer = self.store.get_message(self.answer_id)
            self.store.truncate_after(self.chat_id, answer.position - 1)
            self.answer_id = None
            self._render_chat()
        self.stats_label.setText("")

    # -- message actions ------------------------------------------------------------------
    @Slot(str, int, int)
    def _on_action(self, verb: str, message_id: int, index: int) -> None:
        if verb == "copy":
            QGuiApplication.clipboard().setText(self.store.get_message(message_id).content)
        elif verb == "copy-code":
            blocks = code_blocks(self.store.get_message(message_id).content)
            if index < len(blocks):
                QGuiApplication.clipboard().setText(blocks[index])
        elif verb == "edit":
            self.edit_message(message_id)
        elif verb == "regenerate":
            self.regenerate()

    def edit_message(self, message_id: int) -> None:
        if self.session.busy:
            return
        self.editing_id = message_id
        self.input.setPlainText(self.store.get_message(message_id).content)
        self.input.setFocus()
        self._show_notice(
            "edit",
            "Editing an earlier message: Send replaces it, and the chat "
            "continues from there (later messages are removed).",
            "",
            "Cancel edit",
        )

    @Slot()
    def regenerate(self) -> None:
        if self.session.busy or not self.chat_id or self.opening or not self.has_model():
            return
        messages = self.store.messages(self.chat_id)
        if not messages or messages[-1].role != "assistant":
            return
        self.store.truncate_after(self.chat_id, messages[-1].position - 1)
        self._render_chat()
        self._generate()

    # -- notices --------------------------------------------------------------------------
    def _show_notice(self, kind: str, text: str, yes: str, no: str) -> None:
        self._notice_kind = kind
        self.notice.setText(text)
        self.notice.show()
        self.notice_yes.setText(yes)
        self.notice_yes.setVisible(bool(yes))
        self.notice_no.setText(no)
        self.notice_no.show()

    def _hide_notice(self) -> None:
        self._notice_kind = ""
        for widget in (self.notice, self.notice_yes, self.notice_no):
            widget.hide()

    @Slot()
    def _notice_accepted(self) -> None:
        kind = self._notice_kind
        self._hide_notice()
        if kind == "context":
            self._generate(drop_oldest=True)

    @Slot()
    def _notice_dismissed(self) -> None:
        if self._notice_kind == "edit":
            self.editing_id = None
            self.input.clear()
        self._hide_notice()

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(self.reply is not None)
        self.model_box.setEnabled(not busy or self.session.loading)

    def answer_text(self) -> str:
        """The answer being streamed, or the last answer of the open chat."""
        if self.answer_id is not None:
            return self.transcript.streaming_text()
        answers = [m for m in self.store.messages(self.chat_id) if m.role == "assistant"]
        return answers[-1].content if answers else ""

    def finish_interrupted_answer(self) -> None:
        """On close during an answer: keep what was written, marked as stopped."""
        if self.answer_id is not None:
            self.store.finish_answer(self.answer_id, {"stop_reason": "user"}, "user")
            self.answer_id = None

    def save_settings(self) -> None:
        """Settings are kept in ``self.settings``; the window saves them."""
