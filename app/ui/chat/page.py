"""Chat: saved conversations with a local or remote model, streamed answers, stop, regenerate,
edit.

The page never waits on the chat file: it changes the ``ChatHistory`` in memory, which writes
behind on its own thread; a chat not in memory yet is read in the background when opened (Send
waits for it, the text typed is kept), the start's last chat at once; a write that keeps
failing is said once in the window's banner.

The page holds the chats (open, new, delete, edit, regenerate) and puts its parts together:
``model_bar`` (the picker and the model's status, run by ``model_control``), the transcript,
``notice_bar``, ``figures`` (the last answer's figures and the context meter), ``message_row``
(the message box with Send, Stop and Image...); ``answer`` writes the answer being streamed.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from app.core.chats.history import ChatHistory
from app.core.chats.store import Message
from app.core.common.markdown import code_blocks
from app.core.config import limits
from app.core.config.settings import Settings
from app.core.inference.remote import ConnectionStore
from app.core.inference.types import SamplingOptions
from app.ui.chat.answer import ChatAnswer
from app.ui.chat.chat_export import ask_and_export
from app.ui.chat.composer import TEXT_ONLY, Attachments, ImageIntake, message_content
from app.ui.chat.figures import FiguresLine, shown_message
from app.ui.chat.list_model import ChatListModel
from app.ui.chat.message_row import MessageRow
from app.ui.chat.model_bar import ModelBar
from app.ui.chat.model_control import ChatModelControl
from app.ui.chat.notice_bar import NoticeBar
from app.ui.chat.settings_panel import ChatSettingsPanel
from app.ui.chat.sidebar import ChatSidebar
from app.ui.chat.transcript import Transcript
from app.ui.chat.welcome import Welcome
from app.ui.common.banner import show_error
from app.ui.common.confirm import ask_yes_no
from app.ui.common.tasks import run_task
from app.ui.my_models.library_model import LibraryModel
from app.ui.session.session import ChatSession


class _FromWriter(QObject):
    """The chat writer's thread -> the GUI thread: a sentence for the banner."""

    said = Signal(str)


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
        self.editing_id: int | None = None
        self.opening = 0  # a chat being read in the background, shown once it is read
        self._written = _FromWriter(self)
        self._written.said.connect(self._on_store_trouble)
        store.on_trouble = self._written.said.emit

        self.chats = ChatListModel(store, self)
        self.sidebar = ChatSidebar(self.chats)
        self.panel = ChatSettingsPanel(library.adapters)  # the scan's LoRA adapters
        self.panel.setVisible(False)
        self.transcript = Transcript()
        self._build_center()
        self.answer = ChatAnswer(session, store, self.transcript, self.figures, self)
        self.answer.token.connect(self.answer_token)
        self.answer.finished.connect(self.answer_finished)
        self.answer.ended.connect(self._render_chat)  # moves Regenerate to the new last answer
        self.answer.failed.connect(self._on_failed)
        self.answer.context_full.connect(self._on_context_full)
        self.answer.reply_changed.connect(self._on_reply_changed)
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
        self.notices = NoticeBar()
        self.notices.accepted.connect(self._notice_accepted)
        self.notices.dismissed.connect(self._notice_dismissed)
        self.notice, self.notice_yes = self.notices.notice, self.notices.yes
        self.message_row = MessageRow()
        self.message_row.send_requested.connect(self.send)
        self.message_row.stop_requested.connect(self.stop_answer)
        self.input = self.message_row.input
        self.send_button, self.stop_button = (
            self.message_row.send_button,
            self.message_row.stop_button,
        )
        self.figures = FiguresLine()
        self.stats_label, self.context_meter = self.figures.stats_label, self.figures.context_meter
        self.models = ChatModelControl(
            self.session,
            self.library,
            self.settings,
            self.connections,
            self.panel,
            self.figures,
            self._chat_system_prompt,
            self,
        )
        models = self.models  # its widgets, under the names the page has always had
        self.model_box, self.model_status = models.picker, models.status
        self.settings_button = models.settings_button
        self.load_bar, self.cancel_load_button = models.load_bar, models.cancel_load_button
        self.attachments = Attachments()  # images waiting for Send, above the message box
        self.images = ImageIntake(self.session, self.input, self.attachments, self)
        self.message_row.add_button(self.images.attach_button)

        self.center = QVBoxLayout()
        self.center.setContentsMargins(16, 14, 16, 14)
        self.center.addWidget(ModelBar(models))
        self.welcome = Welcome(self.transcript, self.input)  # while the chat has no message
        self.center.addWidget(self.welcome, 1)
        self.center.addWidget(self.transcript, 1)
        for part in (self.notices, self.figures, self.attachments, self.message_row):
            self.center.addWidget(part)

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

    # -- chats ----------------------------------------------------------------------------
    @Slot(int)
    def open_chat(self, chat_id: int) -> None:
        self.answer.drop(keep=True)  # another chat on screen: the answer stops where it is
        self.chat_id = chat_id
        self.settings.last_chat = chat_id
        self.editing_id = None
        self.notices.close_notice()
        chat = self.store.get_chat(chat_id)
        self.panel.show_settings(self.models.model_settings(), chat.system_prompt)
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
        self.transcript.show_messages([shown_message(m, m.id == last_answer) for m in messages])
        used = [json.loads(m.stats_json or "{}").get("context_used") for m in messages]
        used = [u for u in used if u]
        if self.session.model and (used or self.session.model.n_ctx):
            self.figures.show_context(self.session.model.n_ctx, used[-1] if used else 0)
        # The figures of this chat's last answer: a new chat kept the last chat's (another
        # model's "78.6 tok/s" under an empty chat, issue 19). Send and Regenerate set
        # "Thinking..." after this.
        last = next((m for m in reversed(messages) if m.role == "assistant"), None)
        self.figures.show_figures(json.loads(last.stats_json or "{}") if last else {})

    @Slot()
    def new_chat(self) -> int:
        shown = self.panel.settings()  # what the user set before the first message is kept
        chat = self.store.create_chat(
            model=self.models.active_model_key() or self.models.current_model_key(),
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
            self.answer.drop(keep=False)  # its late tokens must not reach a deleted chat
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

    @Slot(int)
    def _export_dialog(self, chat_id: int) -> None:
        ask_and_export(self, self.store, chat_id)

    # -- sending --------------------------------------------------------------------------
    @Slot()
    def send(self) -> None:
        text = self.input.toPlainText().strip()
        editing = self.editing_id is not None  # an edit changes the text; images stay pending
        pending = bool(self.attachments.urls()) and not editing
        if not (text or pending) or self.session.busy or self.opening:
            return  # an opening chat is read in a moment: the text stays in the box
        if not self.models.has_model():
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
            self.notices.close_notice()
        else:
            self.store.add_message(self.chat_id, "user", text, images=self.images.take())
        self.store.update_chat(self.chat_id, model=self.models.active_model_key())
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
        sampling = SamplingOptions.of(self.panel.settings().sampling)
        self.answer.start(self.chat_id, history, sampling, drop_oldest)
        self.sidebar.select(self.chat_id)

    @Slot()
    def stop_answer(self) -> None:
        """Stop the page's own answer (an API client's goes on)."""
        self.answer.stop()

    @Slot()
    def _on_reply_changed(self) -> None:
        self._on_busy(self.session.busy)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        """The answer failed (the model's process may have died): what was written is kept,
        marked as interrupted, and the message says why."""
        self._render_chat()
        self.figures.clear_figures()
        show_error(self, message)
        self.answer_failed.emit(message)

    @Slot(int, int)
    def _on_context_full(self, used: int, limit: int) -> None:
        self._render_chat()
        self.figures.clear_figures()
        self.notices.ask(
            "context",
            f"This chat needs {used:,} tokens but the model's context holds "
            f"{limit:,}. Drop the oldest turns to continue, or stop here (nothing is deleted).",
            "Drop oldest turns and continue",
            "Stop",
        )
        self.answer_context_full.emit(used, limit)

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
        self.notices.ask(
            "edit",
            "Editing an earlier message: Send replaces it, and the chat "
            "continues from there (later messages are removed).",
            "",
            "Cancel edit",
        )

    @Slot()
    def regenerate(self) -> None:
        if self.session.busy or not self.chat_id or self.opening or not self.models.has_model():
            return
        messages = self.store.messages(self.chat_id)
        if not messages or messages[-1].role != "assistant":
            return
        self.store.truncate_after(self.chat_id, messages[-1].position - 1)
        self._render_chat()
        self._generate()

    # -- notices --------------------------------------------------------------------------
    @Slot(str)
    def _notice_accepted(self, kind: str) -> None:
        if kind == "context":
            self._generate(drop_oldest=True)

    @Slot(str)
    def _notice_dismissed(self, kind: str) -> None:
        if kind == "edit":
            self.editing_id = None
            self.input.clear()

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(self.answer.reply is not None)
        self.model_box.setEnabled(not busy or self.session.loading)

    def answer_text(self) -> str:
        """The answer being streamed, or the last answer of the open chat."""
        if self.answer.writing:
            return self.transcript.streaming_text()
        answers = [m for m in self.store.messages(self.chat_id) if m.role == "assistant"]
        return answers[-1].content if answers else ""

    def finish_interrupted_answer(self) -> None:
        """On close during an answer: keep what was written, marked as stopped."""
        self.answer.keep_as_stopped()

    def save_settings(self) -> None:
        """Settings are kept in ``self.settings``; the window saves them."""
