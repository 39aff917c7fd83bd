"""Images in chat messages: OpenAI-style content parts, as the engine and the API take them.

A message's ``content`` is either text or a list of parts: ``{"type": "text", "text": ...}``
and ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}``. A model
answers about images only when loaded with its image projector (``LoadOptions.mmproj_path``);
llama-cpp-python's multimodal chat handler then reads the parts (``compat.attach_projector``).
Plain data, no llama.cpp: the host process and the API server check messages with it too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any

from app.core.common.errors import ContextFullError, GenerationError, UnsupportedRequest
from app.core.inference.image_header import picture_problem


def has_images(messages: Sequence[dict[str, Any]]) -> bool:
    """True when any message holds an ``image_url`` part."""
    return any(_is_image(part) for message in messages for part in _parts(message))


def check_images(messages: Sequence[dict[str, Any]]) -> None:
    """Refuse (``UnsupportedRequest``) the first image that ``image_problem`` finds wrong."""
    for message in messages:
        for part in _parts(message):
            if _is_image(part):
                image = part.get("image_url")
                problem = image_problem(image.get("url") if isinstance(image, dict) else image)
                if problem:
                    raise UnsupportedRequest(problem)


def image_problem(url: object) -> str | None:
    """Why an image's URL is not taken (one sentence), or None. Only a base64 data URL of a
    picture is: given any other URL, llama-cpp-python's handler would fetch it (``urllib``,
    ``file://`` included), and given bytes that are no picture, or a huge one, llama.cpp would
    try them as audio and video or fill memory (``image_header``)."""
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
        return "An image must come as a data URL (data:image/png;base64,...), not a link."
    kind, payload = url[len("data:") :].split(",", 1)
    mime, _, encoding = kind.partition(";")
    if not mime.lower().startswith("image/"):
        return (
            "An image's data URL must say image/png, image/jpeg, image/gif or image/bmp, "
            f"not {mime[:40] or 'nothing'!r}."
        )
    if encoding.lower() != "base64":
        return "An image's data URL must hold base64 (data:image/png;base64,...)."
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return "An image's data URL is not valid base64."
    return picture_problem(data)


def image_urls(messages: Sequence[dict[str, Any]]) -> list[str]:
    """Every image's URL, in order."""
    urls = []
    for message in messages:
        for part in _parts(message):
            if _is_image(part):
                image = part.get("image_url")
                urls.append(str(image.get("url") if isinstance(image, dict) else image))
    return urls


def text_only(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with each list of parts made plain text (its text parts joined), as any
    chat template takes them: the text's share of a chat holding images."""
    return [
        {**m, "content": "".join(str(p.get("text", "")) for p in _parts(m) if _is_text(p))}
        if isinstance(m.get("content"), list)
        else m
        for m in messages
    ]


def image_part(data_url: str) -> dict[str, Any]:
    """The content part of one image given as a data URL (``data:image/png;base64,...``)."""
    return {"type": "image_url", "image_url": {"url": data_url}}


def no_projector_message(model_name: str) -> str:
    return (
        f"{model_name} cannot see images: load it with its image projector "
        "(the repo's mmproj file) to chat about them."
    )


def image_chat_error(exc: BaseException, n_ctx: int) -> Exception:
    """The one-sentence error for llama-cpp-python's failure to render, encode or evaluate an
    image chat (it raises ``ValueError`` with a message of its own, the template its own)."""
    detail = str(exc)
    if isinstance(exc, render_errors()):
        return UnsupportedRequest(
            "This model's chat template cannot take images (it failed on the message's parts)."
        )
    too_long = re.search(r"Prompt exceeds n_ctx: (\d+)", detail)
    if too_long:
        return ContextFullError(int(too_long.group(1)), n_ctx)
    if "image" in detail.lower() or "bitmap" in detail.lower():
        return UnsupportedRequest("An image in the chat could not be read (PNG or JPEG expected).")
    return GenerationError(f"The chat with images could not be evaluated: {detail}")


def render_errors() -> tuple[type[BaseException], ...]:
    """What rendering a chat template that expects text where images are can raise
    (``message['content'] + ...`` on a list of parts: ``TypeError``)."""
    import jinja2

    return (TypeError, jinja2.TemplateError)


def _parts(message: dict[str, Any]) -> list[Any]:
    content = message.get("content")
    return content if isinstance(content, list) else []


def _is_text(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "text"


def _is_image(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url"
