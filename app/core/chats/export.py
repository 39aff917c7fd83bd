"""Export a chat as Markdown or JSON.

The JSON shape (``format_version`` 1) is stable; new keys may be added, none removed::

    {
      "format": "hearth-chat", "format_version": 1,
      "title": str, "model": str, "system_prompt": str,
      "created_at": "2025-01-31T12:00:00+00:00",     # ISO 8601, UTC
      "settings": {...},                              # the chat's settings, secrets removed
      "messages": [
        {"role": "system" | "user" | "assistant", "content": str,
         "created_at": "...", "stats": {...}, "complete": bool,
         "images": [str]}                             # only with images: data URLs
      ]
    }

``complete`` is false for an answer that was interrupted. In Markdown a message's images follow
its text as ``![Image 1](data:image/png;base64,...)``, which Markdown viewers show. Keys that look like credentials
(``api_key``, ``token``, ``authorization``, ``password``, ``secret``...) never leave the store.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from app.core.chats.store import Chat, Message
from app.core.common.errors import ChatStoreError
from app.core.common.json_file import decode, write_atomic

FORMAT_VERSION = 1
_SECRET_WORDS = {
    "token",
    "apikey",
    "authorization",
    "password",
    "passwd",
    "secret",
    "bearer",
    "accesskey",
    "privatekey",
    "credentials",
}
_ROLE_HEADINGS = {"system": "System", "user": "User", "assistant": "Assistant"}
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def is_secret_key(key: str) -> bool:
    """Whether a settings key names a credential (``max_tokens`` does not, ``hf_token`` does)."""
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", key).lower())
    pairs = {a + b for a, b in zip(words, words[1:])}
    return bool(_SECRET_WORDS & (set(words) | pairs))


def strip_secrets(value: Any) -> Any:
    """A copy of a JSON value with every credential-like key removed, at any depth."""
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list):
        return [strip_secrets(item) for item in value]
    return value


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = decode(text or "{}")  # depth-limited: strip_secrets recurses
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _unclosed_fence(text: str) -> str:
    """The fence that closes a code block ``text`` leaves open (an interrupted answer), or ''."""
    opened = ""
    for line in text.splitlines():
        match = _FENCE.match(line)
        if not match:
            continue
        fence = match.group(1)
        if not opened:
            opened = fence
        elif fence[0] == opened[0] and len(fence) >= len(opened) and not line.strip()[len(fence) :]:
            opened = ""
    return opened


def to_markdown(chat: Chat, messages: list[Message]) -> str:
    """The chat as Markdown: a title heading, then a heading per message, text verbatim."""
    parts = [f"# {' '.join(chat.title.split())}\n"]
    if chat.model:
        parts.append(f"Model: `{chat.model}`\n")
    if chat.system_prompt:
        parts.append(f"## System prompt\n\n{chat.system_prompt.rstrip()}\n")
    for message in messages:
        heading = _ROLE_HEADINGS.get(message.role, message.role.title())
        if not message.complete:
            heading += " (interrupted)"
        body = message.content.rstrip("\n")
        fence = _unclosed_fence(body)
        if fence:  # keep the next heading out of a code block the answer never closed
            body += "\n" + fence
        pictures = "".join(f"\n![Image {n}]({url})\n" for n, url in enumerate(message.images, 1))
        parts.append(f"## {heading}\n\n{body}\n{pictures}")
    return "\n".join(parts)


def to_json(chat: Chat, messages: list[Message]) -> str:
    """The chat in the documented JSON shape (see the module docstring)."""
    data = {
        "format": "hearth-chat",
        "format_version": FORMAT_VERSION,
        "title": chat.title,
        "model": chat.model,
        "system_prompt": chat.system_prompt,
        "created_at": _iso(chat.created_at),
        "settings": strip_secrets(_json_object(chat.settings_json)),
        "messages": [
            {
                "role": message.role,
                "content": message.content,
                "created_at": _iso(message.created_at),
                "stats": strip_secrets(_json_object(message.stats_json)),
                "complete": message.complete,
                **({"images": list(message.images)} if message.images else {}),
            }
            for message in messages
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


class ChatSource(Protocol):
    """What an export reads: the ``ChatStore``, or the ``ChatHistory`` the window keeps in front
    of it (which has chats not written yet)."""

    def get_chat(self, chat_id: int) -> Chat: ...

    def messages(self, chat_id: int) -> list[Message]: ...


def export(store: ChatSource, chat_id: int, path: Path) -> Path:
    """Write the chat to ``path`` (.md or .json, by suffix) atomically; returns the path."""
    return write(store.get_chat(chat_id), store.messages(chat_id), path)


def write(chat: Chat, messages: list[Message], path: Path) -> Path:
    """Write ``chat`` with ``messages`` to ``path`` (.md or .json, by suffix) atomically;
    returns the path. Apart from :func:`export` so that the window can read the chat on its
    own thread and write the file on the pool."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        render = to_markdown
    elif suffix == ".json":
        render = to_json
    else:
        raise ChatStoreError("Choose a file name ending in .md (Markdown) or .json.")
    text = render(chat, messages)
    try:
        write_atomic(path, text.encode("utf-8"), make_folder=False)  # a folder the user chose
    except OSError as exc:
        raise ChatStoreError(f"Could not write {path}: {exc.strerror or exc}.") from exc
    return path
