"""Watch every request a ``ChatSession`` answers (the chat page's and the API server's alike)."""

from __future__ import annotations

from collections.abc import Callable


def follow(
    session,
    token: Callable | None = None,
    finished: Callable | None = None,
    failed: Callable | None = None,
) -> None:
    """Connect the given callables to each reply the session sends from now on."""

    def on_sent(reply) -> None:
        for signal, slot in (
            (reply.token, token),
            (reply.finished, finished),
            (reply.failed, failed),
        ):
            if slot is not None:
                signal.connect(slot)

    session.sent.connect(on_sent)
