"""Chat's Drafting box: "auto", "off" or the tokens guessed a step (``LoadOptions.draft_tokens``).

One spin box for the three choices, as the setting is one number: -1 (``AUTO_DRAFT``) drafts
where this computer's batches pay (measured once at load), 0 never, N always, N a step.
"""

from __future__ import annotations

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QSpinBox

from app.core.config.limits import AUTO_DRAFT, MAX_DRAFT_TOKENS

WORDS = {AUTO_DRAFT: "auto", 0: "off"}
TOOLTIP = (
    "Prompt-lookup drafting: guess the next tokens from the prompt (your messages, the "
    "system prompt, earlier answers) and keep those the model would have picked. Faster when "
    "answers repeat the prompt (revising a text or code), and only where this computer "
    "decodes a few tokens at once for little more than one.\n"
    "auto: measured once when the model loads (a few decodes); on only where it pays.\n"
    "off: never. A number: always, guessing up to that many tokens a step.\n"
    "Drafting keeps a row of logits for every token of the context (context length x "
    "vocabulary x 4 bytes: about 400 MB at 2048 tokens for the starter model); the fit "
    "estimate counts it when drafting is on.\n"
    "With a draft model: the tokens it guesses a step (auto or off: 8). "
    "hearth bench draft measures it."
)


class DraftingBox(QSpinBox):
    def __init__(self) -> None:
        super().__init__(minimum=AUTO_DRAFT, maximum=MAX_DRAFT_TOKENS)
        self.setToolTip(TOOLTIP)

    def textFromValue(self, value: int) -> str:  # noqa: N802 (Qt's name)
        return WORDS.get(value, str(value))

    def valueFromText(self, text: str) -> int:  # noqa: N802 (Qt's name)
        words = {word: value for value, word in WORDS.items()}
        return words.get(text.strip().lower(), int(text) if text.strip().isdigit() else 0)

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        stripped = text.strip().lower()
        if stripped in ("auto", "off") or (
            stripped.isdigit() and int(stripped) <= MAX_DRAFT_TOKENS
        ):
            return QValidator.State.Acceptable, text, pos
        if any(word.startswith(stripped) for word in ("auto", "off")):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos
