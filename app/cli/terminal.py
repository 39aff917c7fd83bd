"""Text from files and the Hub, made safe to print to a terminal.

A file name is chosen by whoever made the file: ``ESC [ 2 J`` clears the screen, an OSC
sequence sets the window title or writes a hyperlink, and a right-to-left override makes one
name look like another. Every control and format character is printed as a visible escape
(``\\x1b``) instead, so what the user reads is the name the file really has.
"""

from __future__ import annotations

import unicodedata


def shown(value: object) -> str:
    """``str(value)`` with control and format characters (Unicode Cc, Cf) escaped."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(_escape(c) if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )
