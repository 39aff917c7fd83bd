"""Which web pages may use the API server from a browser (CORS), and what a preflight is told.

A browser-based chat UI calls the server from its page's origin: the browser first asks with
``OPTIONS`` (a preflight) and reads an answer only when it carries
``Access-Control-Allow-Origin``. Pages served from this computer (``http://localhost:*``,
``http://127.0.0.1:*``, ``http://[::1]:*``, http or https) and desktop apps' own pages
(``app://``, ``file://``, ``tauri://``, ``vscode-webview://``, ``vscode-file://``: editor plugins
and Electron or Tauri apps, the schemes Ollama allows too) are allowed; others only when listed
in the server's ``allowed_origins`` (``hearth serve --allow-origin URL``, ``*`` for any page).

A request from any other page is refused (403) rather than answered unreadably: a browser
still sends a "simple" cross-site POST without a preflight, and without this any web page the
user opens could make the local model generate.
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
APP_SCHEMES = {"app", "file", "tauri", "vscode-webview", "vscode-file"}
ALLOWED_METHODS = "GET, HEAD, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, OpenAI-Organization, OpenAI-Project"
MAX_AGE_S = 600  # how long a browser may keep a preflight's answer


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    """Whether a page at ``origin`` (the ``Origin`` header) may use the server."""
    if "*" in allowed or origin.rstrip("/") in {a.rstrip("/") for a in allowed}:
        return True
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme in APP_SCHEMES:
        return True
    return parts.scheme in ("http", "https") and host in LOCAL_HOSTS


def preflight_headers(requested: str | None) -> list[tuple[str, str]]:
    """The answer to an allowed preflight (besides ``Access-Control-Allow-Origin``)."""
    headers = ALLOWED_HEADERS
    if requested:  # what the page asked for, so SDKs' own headers (x-stainless-...) pass too
        headers = ", ".join(
            h.strip() for h in requested.split(",")[:32] if h.strip().replace("-", "").isalnum()
        )
    return [
        ("Access-Control-Allow-Methods", ALLOWED_METHODS),
        ("Access-Control-Allow-Headers", headers or ALLOWED_HEADERS),
        ("Access-Control-Max-Age", str(MAX_AGE_S)),
    ]
