"""An ``ApiServer`` over its own ``GenerationQueue`` for the length of a ``with`` block: the
server stopped before its queue is closed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.core.inference.queue import GenerationQueue
from app.core.inference.types import Backend, SamplingOptions
from app.core.server.server import ApiServer


@contextmanager
def serving(backend: Backend, **options: Any) -> Iterator[ApiServer]:
    """``backend`` served on a free loopback port; greedy, seeded answers unless ``defaults``
    says otherwise; ``options`` go to ``ApiServer``."""
    options.setdefault("defaults", SamplingOptions(temperature=0.0, seed=1))
    queue = GenerationQueue(backend)
    server = ApiServer(queue, port=0, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        queue.close()
