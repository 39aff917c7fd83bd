"""One column of Side by side or the arena: a title, the streamed answer, its speed.

The answer view is the chat's ``Transcript`` (Markdown, incremental append at most ten times
a second), without the chat's headers: a column holds one answer.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout

from app.core.inference.types import GenerationStats
from app.ui.chat.transcript import ShownMessage, Transcript


class AnswerView(Transcript):
    """A transcript showing one answer, with no "Assistant" header above it."""

    def _header(self, m: ShownMessage) -> str:
        return '<p style="margin:0;"></p>'


def format_stats(stats: GenerationStats) -> str:
    parts = [
        f"{stats.tokens_per_second:.1f} tok/s",
        f"first token {stats.time_to_first_token_s:.2f} s",
        f"{stats.tokens} tokens",
    ]
    if stats.stop_reason == "length":
        parts.append("stopped at the token limit")
    elif stats.stop_reason == "user":
        parts.append("stopped")
    return " · ".join(parts)


class AnswerColumn(QFrame):
    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("answerColumn")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(title, styleSheet="font-weight: 600;")
        self.title.setWordWrap(True)
        self.status = QLabel("", objectName="hint")  # always there: no jump when it empties
        self.status.setMinimumHeight(self.status.fontMetrics().height())
        self.status.setWordWrap(True)  # a server's error message can be long
        self.status.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum
        )  # wraps, not wider
        self.view = AnswerView(self)
        self.stats = QLabel("", objectName="hint")
        self.stats.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.stats)
        self._text = ""
        self._streaming = False

    def set_title(self, title: str) -> None:
        self.title.setText(title)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def begin(self) -> None:
        self._text = ""
        self.view.clear()
        self.stats.clear()
        self.view.begin_answer(0)
        self._streaming = True

    def append(self, text: str) -> None:
        if not self._streaming:
            self.begin()
        self._text += text
        self.view.append_to_answer(text)

    def finish(self, stats: GenerationStats | None, status: str = "") -> None:
        if self._streaming:
            self.view.finish_answer(
                ShownMessage(
                    0,
                    "assistant",
                    self._text,
                    interrupted=stats is not None and stats.stop_reason == "user",
                )
            )
            self._streaming = False
        self.stats.setText(format_stats(stats) if stats is not None else "")
        self.set_status(status)

    def answer_text(self) -> str:
        return self._text

    def clear(self) -> None:
        self._text = ""
        self._streaming = False
        self.view.clear()
        self.stats.clear()
        self.set_status("")
