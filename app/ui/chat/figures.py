"""Chat's figures line, under the transcript: the last answer's figures (speed, first token,
tokens, why it ended) and the context meter (the context the chat uses of the model's).

The figures are stored with each answer (``answer_record``) and shown again when its chat is
opened; the meter is told by the page and by the model control, in the words kept here.
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.core.chats.store import Message
from app.core.inference.types import GenerationStats
from app.ui.chat.transcript import ShownMessage
from app.ui.common.elided_label import ElidedLabel

REASONS = {"stop": "finished", "length": "max tokens reached", "user": "stopped", "error": "failed"}
THINKING, ANSWERING = "Thinking...", "Answering..."


def stats_line(stats: dict) -> str:
    """An answer's stored figures in one line ("" for an answer without them)."""
    if not stats or "tokens" not in stats:
        return ""
    return (
        f"{stats.get('tok_s', 0):.1f} tok/s · first token {stats.get('ttft_s', 0):.2f} s · "
        f"{stats['tokens']} tokens · {REASONS.get(stats.get('stop_reason') or '', '')}"
    )


def answer_record(stats: GenerationStats) -> dict:
    """The figures kept with an answer in the chat file."""
    return {
        "tokens": stats.tokens,
        "tok_s": round(stats.tokens_per_second, 2),
        "ttft_s": round(stats.time_to_first_token_s, 3),
        "prompt_tokens": stats.prompt_tokens,
        "context_used": stats.context_used,
        "stop_reason": stats.stop_reason,
    }


def shown_message(m: Message, last_answer: bool = False) -> ShownMessage:
    """A stored message as the transcript shows it, its figures under an answer."""
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


class FiguresLine(QWidget):
    """The figures on the left, elided to one line and whole in their tooltip (unwrapped they
    widened a 1024-px window; wrapped to two lines they squeezed Send, Stop and Image... over
    each other beside the downloads dock, issue 19): whole in a 1024-px window, cut only where
    the downloads dock takes the room. The context meter on the right."""

    def __init__(self) -> None:
        super().__init__()
        self.stats_label = ElidedLabel("", objectName="hint")
        # As wide as its text, never less: a 230-px minimum cut a max-tokens answer's figures
        # (~410 px) at 1024 px, where the figures line has ~565 px in all
        self.context_meter = QLabel("", objectName="hint")
        self.context_meter.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stats_label, 1)
        layout.addWidget(self.context_meter)

    # -- the answer's figures ------------------------------------------------------------------
    def show_figures(self, stats: dict) -> None:
        """An answer's stored figures ({} for none)."""
        self.stats_label.setText(stats_line(stats))

    def thinking(self) -> None:
        """The answer is asked for: THINKING until its first words, ANSWERING then."""
        self.stats_label.setText(THINKING)

    def first_words(self) -> None:
        if self.stats_label.text() == THINKING:
            self.stats_label.setText(ANSWERING)

    def clear_figures(self) -> None:
        self.stats_label.setText("")

    # -- the context meter ---------------------------------------------------------------------
    def show_context(self, size: int, used: int = 0) -> None:
        """The model's context and what the chat uses of it (0: not known yet). Short, its
        sentence in the tooltip: "used 63 of 8,192 tokens" left a max-tokens answer's figures
        6 px short at 1024 px."""
        if used:
            self._meter(
                f"{used:,} / {size:,} tokens",
                f"This chat uses {used:,} of the model's {size:,} tokens of context.",
            )
        else:
            self._meter(
                f"context: {size:,} tokens",
                f"The model's context holds {size:,} tokens: the chat and its next answer.",
            )

    def show_remote(self, prompt_tokens: int) -> None:
        """A remote model's answer: its server holds the context; the prompt's size is known."""
        self._meter(
            f"{prompt_tokens:,} prompt tokens",
            f"A remote model: its server holds the context. The prompt took {prompt_tokens:,} "
            "tokens.",
        )

    def _meter(self, text: str, why: str) -> None:
        self.context_meter.setText(text)
        self.context_meter.setToolTip(why)
        self.context_meter.show()

    def hide_context(self) -> None:
        """A remote model chosen: the server holds the context, so the figures get the room."""
        self.context_meter.setText("")
        self.context_meter.hide()
