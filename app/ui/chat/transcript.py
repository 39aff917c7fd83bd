"""The conversation view: one QTextBrowser, messages rendered from Markdown.

Streaming appends only at the end: the answer's stable part (see
``app.core.common.markdown.stable_length``) is rendered once, and only the short tail after it is
replaced as tokens arrive, at most once per frame. Earlier messages are never re-rendered
while streaming. Links in the document carry the actions (copy, copy code, edit, regenerate)
and are reported through ``action``.

Colours are written into the HTML, so the document keeps those it was drawn in: on a theme
switch (``QEvent.PaletteChange``) the conversation is drawn again in the new theme's colours,
the answer being written included (in dark, "You" drawn earlier kept the light theme's slate).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, replace

from PySide6.QtCore import QEvent, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QImage, QShowEvent, QTextCursor, QTextDocument
from PySide6.QtWidgets import QTextBrowser

from app.core.common import markdown
from app.core.common.markdown import render_markdown, stable_length
from app.ui.chat.image_data import thumbnail
from app.ui.common.tasks import run_task
from app.ui.theme import colours_of

log = logging.getLogger("hearth.ui.chat")

# Markdown's libraries are imported on the thread pool this long after the transcript is first
# shown: after the studio's first paint (which they would slow), long before a first answer.
WARM_UP_AFTER_MS = 1000

THUMBNAIL_SIDE = 160  # pixels: a message's images in the conversation
ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}


@dataclass(frozen=True)
class ShownMessage:
    id: int
    role: str
    content: str
    stats: str = ""
    interrupted: bool = False
    last_answer: bool = False
    images: tuple[str, ...] = ()  # data URLs, shown as thumbnails after the text


class Transcript(QTextBrowser):
    action = Signal(str, int, int)  # verb, message id, index (code block number or 0)
    emptied = Signal(bool)  # True: no message shown (the page shows its welcome instead)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._on_anchor)
        self.document().setDocumentMargin(14)
        self._answer_id: int | None = None
        self._answer_text = ""
        self._stable_done = 0  # characters of the answer rendered for good
        self._tail_start = 0  # document position where the re-rendered tail begins
        self._flush = QTimer(self, singleShot=True, interval=100)
        self._flush.timeout.connect(self._render_tail)
        self._warm_up_due = self._warm_up_started = False
        # Decoded once: switching chats re-renders every message (the document drops its
        # resources on clear()), and decoding a 1,536-px PNG takes some 20 ms.
        self._thumbnails: dict[tuple[int, int, int], QImage] = {}
        self._shown: list[ShownMessage] = []  # drawn again in a new theme's colours
        self._colours = colours_of(self)  # the theme the document is drawn in
        # The application's palette and then its style sheet each change the palette: one
        # redraw after both, on the next turn of the event loop.
        self._restyle = QTimer(self, singleShot=True, interval=0)
        self._restyle.timeout.connect(self._redraw)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._warm_up_due:
            self._warm_up_due = True
            QTimer.singleShot(WARM_UP_AFTER_MS, self, self._warm_up)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Kept at the end when it was there: images waiting above the message box make the
        conversation shorter, and hid the end of the last answer."""
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        super().resizeEvent(event)
        if at_bottom:
            self._scroll_to_end()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and colours_of(self) is not self._colours:
            self._restyle.start()

    @Slot()
    def _redraw(self) -> None:
        """The conversation drawn again in the theme's colours, where the reader was."""
        if colours_of(self) is self._colours:  # drawn in them meanwhile (another chat opened)
            return
        self._colours = colours_of(self)
        bar = self.verticalScrollBar()
        at_bottom, value = bar.value() >= bar.maximum() - 4, bar.value()
        self.clear()
        for message in self._shown:
            self._insert_message(message)
        if self._answer_id is not None:  # the answer being written, all of it so far
            self._begin_tail(self._answer_id)
            self._render_tail()
        if at_bottom:
            self._scroll_to_end()
        else:
            bar.setValue(value)

    @Slot()
    def _warm_up(self) -> None:
        if not self._warm_up_started:
            self._warm_up_started = True
            run_task(markdown.warm_up, _ignore, _warm_up_failed, self, key="markdown-warm-up")

    # -- whole conversation (switching chats, after an edit) ------------------------------
    def show_messages(self, messages: list[ShownMessage]) -> None:
        self._answer_id = None
        self._shown = list(messages)
        self._colours = colours_of(self)
        self.clear()
        for message in messages:
            self._insert_message(message)
        self._scroll_to_end()
        self.emptied.emit(not messages)

    def _insert_message(self, message: ShownMessage) -> None:
        self._append_html(self._header(message))
        self._append_html(self._body(message))
        if message.stats or message.interrupted:
            self._append_html(self._footer(message))

    def _append_html(self, fragment: str) -> QTextCursor:
        """Add HTML as new blocks at the end (insertHtml alone would merge paragraphs)."""
        cursor = self._end()
        if not self.document().isEmpty():
            cursor.insertBlock()
        cursor.insertHtml(fragment)
        return cursor

    # -- streaming ------------------------------------------------------------------------
    def begin_answer(self, message_id: int) -> None:
        self._warm_up()  # an answer asked for sooner: the imports overlap its prompt
        self._answer_id = message_id
        self._answer_text = ""
        self._begin_tail(message_id)
        self.emptied.emit(False)

    def _begin_tail(self, message_id: int) -> None:
        """The answer's name, and the place its words are written from."""
        self._stable_done = 0
        self._append_html(self._header(ShownMessage(message_id, "assistant", "")))
        self._end().insertBlock()
        self._tail_start = self._end().position()

    def append_to_answer(self, text: str) -> None:
        """Cheap per token: remember the text; the view catches up on the next frame."""
        self._answer_text += text
        if not self._flush.isActive():
            self._flush.start()

    @Slot()
    def _render_tail(self) -> None:
        if self._answer_id is None:
            return
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        text = self._answer_text
        cursor = self._end()
        cursor.setPosition(self._tail_start, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        stable = stable_length(text)
        if stable > self._stable_done:
            cursor.insertHtml(self._markdown(text[self._stable_done : stable], self._answer_id))
            self._stable_done = stable
            cursor = self._end()
            cursor.insertBlock()
            self._tail_start = cursor.position()
        tail = text[self._stable_done :]
        if tail:
            cursor.insertHtml(self._markdown(tail, self._answer_id))
        if at_bottom:
            self._scroll_to_end()

    def finish_answer(self, message: ShownMessage) -> None:
        self._flush.stop()
        self._answer_text = message.content
        self._render_tail()
        self._answer_id = None
        if message.stats or message.interrupted:
            self._append_html(self._footer(message))
        if message.last_answer:  # as the chat is drawn when opened: one Regenerate link
            self._shown = [replace(m, last_answer=False) for m in self._shown]
        self._shown.append(message)
        self._scroll_to_end()

    def streaming_text(self) -> str:
        return self._answer_text

    # -- pieces ---------------------------------------------------------------------------
    def _header(self, m: ShownMessage) -> str:
        name = ROLE_NAMES.get(m.role, m.role)
        color = self._colours["assistant_name" if m.role == "assistant" else "user_name"]
        links = [f'<a href="hearth:copy/{m.id}">Copy</a>']
        if m.role == "user":
            links.append(f'<a href="hearth:edit/{m.id}">Edit</a>')
        if m.last_answer:
            links.append(f'<a href="hearth:regenerate/{m.id}">Regenerate</a>')
        actions = " · ".join(links) if m.content or m.role == "user" else ""
        return (
            f'<p style="margin-top:14px;"><span style="font-weight:600; color:{color};">'
            f'{name}</span>&nbsp;&nbsp;<span style="font-size:8.5pt;">{actions}</span></p>'
        )

    def _body(self, m: ShownMessage) -> str:
        if m.role == "user":
            text = "<p>" + html.escape(m.content).replace("\n", "<br/>") + "</p>"
        else:
            text = self._markdown(m.content, m.id)
        return text + self._pictures(m) if m.images else text

    def _pictures(self, m: ShownMessage) -> str:
        """The message's images as thumbnails, each added to the document as a resource."""
        shown = []
        for n, url in enumerate(m.images):
            name = QUrl(f"hearth-image:{m.id}/{n}")
            key = (m.id, n, hash(url))
            image = self._thumbnails.get(key)
            if image is None:
                image = self._thumbnails[key] = thumbnail(url, THUMBNAIL_SIDE)
            if image.isNull():  # stored, but not an image any more (damaged): said in place
                note = self._colours["note_text"]
                shown.append(f'<span style="color:{note};">[an image that cannot be shown]</span>')
                continue
            self.document().addResource(QTextDocument.ResourceType.ImageResource, name, image)
            shown.append(
                f'<img src="{name.toString()}" width="{image.width()}" height="{image.height()}" />'
            )
        return "<p>" + "&nbsp;&nbsp;".join(shown) + "</p>"

    @staticmethod
    def _markdown(text: str, message_id: int) -> str:
        return render_markdown(text, copy_links=f"hearth:copy-code/{message_id}/")

    def _footer(self, m: ShownMessage) -> str:
        parts = []
        if m.interrupted:
            note = self._colours["note_text"]
            parts.append(
                f'<span style="color:{note};">Interrupted: the answer stopped here.</span>'
            )
        if m.stats:
            parts.append(html.escape(m.stats))
        hint = self._colours["hint"]
        return f'<p style="color:{hint}; font-size:8.5pt;">{" · ".join(parts)}</p>'

    def _end(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    @Slot(QUrl)
    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() != "hearth":
            from PySide6.QtGui import QDesktopServices

            QDesktopServices.openUrl(url)
            return
        parts = url.path().split("/")
        verb = parts[0]
        ids = [int(p) for p in parts[1:] if p.isdigit()]
        self.action.emit(verb, ids[0] if ids else 0, ids[1] if len(ids) > 1 else 0)


def _ignore(_result: object) -> None:
    """The warm-up has no result: the imports it made are what it is for."""


def _warm_up_failed(message: str) -> None:
    # The first answer then imports the libraries itself, and says any real error there.
    log.warning("Preparing Markdown in the background failed: %s", message)
