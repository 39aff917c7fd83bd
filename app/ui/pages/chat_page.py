"""Chat: pick a local model, type, and read the answer as it streams."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QTextBrowser, QVBoxLayout,
    QWidget,
)

from app.core.engine import GenerationStats, LoadedModel, LoadOptions, SamplingOptions
from app.core.settings import Settings
from app.ui.chat_worker import ChatSession
from app.ui.library_model import LibraryModel, PathRole

log = logging.getLogger("hearth.ui.chat")


class ChatPage(QWidget):
    def __init__(self, session: ChatSession, library: LibraryModel, settings: Settings) -> None:
        super().__init__()
        self.session = session
        self.settings = settings
        self.messages: list[dict] = []
        self._answer: list[str] = []
        self._wanted_path = settings.last_model

        title = QLabel("Chat", objectName="pageTitle")
        self.model_box = QComboBox()
        self.model_box.setModel(library)
        self.model_box.setMinimumWidth(360)
        self.model_box.activated.connect(self._on_model_chosen)
        library.modelReset.connect(self._on_library_changed)
        self.model_status = QLabel("No model loaded", objectName="hint")
        self.new_button = QPushButton("New chat")
        self.new_button.clicked.connect(self.new_chat)

        self.transcript = QTextBrowser()
        self.transcript.setOpenExternalLinks(True)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Type a message. Enter sends, Shift+Enter starts a new line.")
        self.input.setFixedHeight(90)
        self.input.installEventFilter(self)
        self.send_button = QPushButton("Send", objectName="primary")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.session.stop)
        self.stop_button.setEnabled(False)
        self.stats_label = QLabel("", objectName="hint")

        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_box)
        top.addWidget(self.new_button)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        composer = QHBoxLayout()
        composer.addWidget(self.input, 1)
        composer.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addLayout(top)
        layout.addWidget(self.model_status)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.stats_label)
        layout.addLayout(composer)

        session.loaded.connect(self._on_loaded)
        session.load_failed.connect(self._on_load_failed)
        session.token.connect(self._on_token)
        session.finished.connect(self._on_finished)
        session.failed.connect(self._on_failed)
        session.busy_changed.connect(self._on_busy)

    # -- model choice -------------------------------------------------------------------
    def select_model(self, path: str) -> None:
        self._wanted_path = path
        for row in range(self.model_box.count()):
            if self.model_box.itemData(row, PathRole) == path:
                self.model_box.setCurrentIndex(row)
                self._load(path)
                return

    @Slot()
    def _on_library_changed(self) -> None:
        """Pick the remembered model, else the first (the starter model comes first)."""
        if self.model_box.count() == 0:
            self.model_status.setText("No local model yet: run 'hearth setup' or download one.")
            return
        loaded = self.session.model.path if self.session.model else None
        target = str(loaded) if loaded else self._wanted_path
        row = next((r for r in range(self.model_box.count())
                    if self.model_box.itemData(r, PathRole) == target), 0)
        self.model_box.setCurrentIndex(row)
        if loaded is None and not self.session.busy:
            self._load(self.model_box.itemData(row, PathRole))

    @Slot(int)
    def _on_model_chosen(self, row: int) -> None:
        path = self.model_box.itemData(row, PathRole)
        if path and (self.session.model is None or str(self.session.model.path) != path):
            self._load(path)

    def _load(self, path: str) -> None:
        self.model_status.setText(f"Loading {Path(path).name}...")
        self.session.load(Path(path), LoadOptions(
            n_ctx=self.settings.n_ctx, n_gpu_layers=self.settings.n_gpu_layers,
            n_threads=self.settings.n_threads))

    @Slot(object)
    def _on_loaded(self, model: LoadedModel) -> None:
        self.settings.last_model = str(model.path)
        note = "" if model.has_chat_template else (
            " (no chat template in this file: using the generic ChatML format)")
        self.model_status.setText(
            f"{model.path.name} loaded in {model.load_seconds:.1f} s, context {model.n_ctx} "
            f"tokens{note}")

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.model_status.setText("No model loaded")
        self.window().show_error(message)

    # -- chatting -----------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if (watched is self.input and event.type() == event.Type.KeyPress
                and event.key() in (Qt.Key_Return, Qt.Key_Enter)
                and not event.modifiers() & Qt.ShiftModifier):
            self.send()
            return True
        return super().eventFilter(watched, event)

    @Slot()
    def send(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.session.busy:
            return
        if self.session.model is None:
            self.window().show_error("Choose a model first: no model is loaded.")
            return
        self.input.clear()
        if not self.messages and self.settings.system_prompt:
            self.messages.append({"role": "system", "content": self.settings.system_prompt})
        self.messages.append({"role": "user", "content": text})
        self._append_block("You", text)
        self._append_block("Assistant", "")
        self._answer = []
        self.session.send(list(self.messages), self._sampling())

    def _sampling(self) -> SamplingOptions:
        s = self.settings
        return SamplingOptions(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                               min_p=s.min_p, repeat_penalty=s.repeat_penalty,
                               max_tokens=s.max_tokens, seed=s.seed)

    def _append_block(self, who: str, text: str) -> None:
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.End)
        if not self.transcript.document().isEmpty():
            cursor.insertBlock()
        heading = QTextCharFormat()
        heading.setFontWeight(QFont.Bold)
        cursor.insertText(who, heading)
        cursor.insertBlock()
        cursor.insertText(text, QTextCharFormat())
        self.transcript.setTextCursor(cursor)

    @Slot(str)
    def _on_token(self, text: str) -> None:
        """Append only the new text at the end: never re-render the conversation."""
        self._answer.append(text)
        cursor = QTextCursor(self.transcript.document())
        cursor.movePosition(QTextCursor.End)
        cursor.insertText(text, QTextCharFormat())
        bar = self.transcript.verticalScrollBar()
        bar.setValue(bar.maximum())

    @Slot(object)
    def _on_finished(self, stats: GenerationStats) -> None:
        self.messages.append({"role": "assistant", "content": "".join(self._answer)})
        reason = {"stop": "finished", "length": "max tokens reached", "user": "stopped"}.get(
            stats.stop_reason, stats.stop_reason)
        self.stats_label.setText(
            f"{stats.tokens_per_second:.1f} tok/s · first token {stats.time_to_first_token_s:.2f} s"
            f" · {stats.tokens} tokens · {reason}")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.messages.append({"role": "assistant", "content": "".join(self._answer)})
        self.window().show_error(message)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.model_box.setEnabled(not busy)

    @Slot()
    def new_chat(self) -> None:
        if self.session.busy:
            self.session.stop()
        self.messages = []
        self.transcript.clear()
        self.stats_label.clear()

    def answer_text(self) -> str:
        return "".join(self._answer)

    def save_settings(self) -> None:
        """Nothing beyond what is already in ``settings`` for now."""
