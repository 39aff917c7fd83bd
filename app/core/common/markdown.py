"""Chat messages as HTML for Qt's rich text: Markdown (markdown-it-py) with code highlighted
by Pygments, in the HTML subset QTextDocument understands (inline styles, no classes).

Streaming support: ``stable_length(text)`` says how much of a growing answer can no longer
change its rendering (everything before the last blank line outside a code fence), so the view
renders that part once and re-renders only the short tail as tokens arrive.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only (imported on first use, as below)
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from pygments.formatters import HtmlFormatter

# markdown-it and Pygments are imported on first use: they cost ~50 ms of the studio's start,
# before any message is shown.
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
# Code blocks are light in both themes, so their text is set dark here (in the dark theme it
# would otherwise inherit the light text colour).
CODE_STYLE = (
    "background-color:#f3f5f8; font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;"
    " font-size:9.5pt; padding:6px;"
)


@functools.cache
def _formatter() -> HtmlFormatter:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(noclasses=True, nowrap=True, style="friendly")


def _highlight(code: str, language: str) -> str:
    from pygments import highlight
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    return str(highlight(code, lexer, _formatter()))


def _make_parser(copy_links: str | None) -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.enable("strikethrough")
    counter = {"n": 0}

    def fence(
        _renderer: object, tokens: Sequence[Token], idx: int, _options: object, _env: object
    ) -> str:
        token = tokens[idx]
        language = (token.info or "").strip().split(" ")[0]
        body = _highlight(token.content, language).rstrip("\n")
        n = counter["n"]
        counter["n"] += 1
        link = ""
        if copy_links is not None:
            label = html.escape(language) + " · " if language else ""
            link = (
                # the transcript's own text colour (a fixed grey read 3.4:1 on the dark theme)
                f'<p style="margin:6px 0 0 0; font-size:8.5pt;">{label}'
                f'<a href="{copy_links}{n}">Copy code</a></p>'
            )
        return (
            f'{link}<table width="100%" cellpadding="6" style="{CODE_STYLE}"><tr><td>'
            f'<pre style="margin:0; color:#1f2430;">{body}</pre></td></tr></table>'
        )

    md.add_render_rule("fence", fence)
    md.add_render_rule("code_block", fence)
    return md


def render_markdown(text: str, copy_links: str | None = None) -> str:
    """HTML for ``text``. ``copy_links`` prefixes a "Copy code" link per code block (``+ n``)."""
    return str(_make_parser(copy_links).render(text))


def warm_up() -> None:
    """Import markdown-it and Pygments (and Python's lexer) by rendering a sample once. Run
    off the GUI thread before the first answer: on it, the first render of a streamed answer
    took 61 ms, most of a 130 ms stall of the window (issue 19)."""
    render_markdown("*warm* up\n\n```python\nx = 1\n```\n")


def code_blocks(text: str) -> list[str]:
    """The contents of the fenced and indented code blocks of ``text``, in order."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    return [t.content for t in tokens if t.type in ("fence", "code_block")]


def stable_length(text: str) -> int:
    """Length of the prefix of a growing Markdown text whose rendering is final.

    That is everything up to the last blank line that is outside a code fence; the rest
    (the tail) may still change as more text arrives.
    """
    in_fence = False
    stable = 0
    offset = 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        end = offset + len(line) + 1
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and line.strip() == "" and i < len(lines) - 1:
            stable = min(end, len(text))
        offset = end
    return stable
