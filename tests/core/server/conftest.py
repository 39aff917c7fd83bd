"""What the API server's tests share: the starter model loaded once per module, a generation
queue over it, servers on free ports (all stopped, their threads joined, after each test) and
the official OpenAI client. A module needing another engine overrides ``engine``."""

from __future__ import annotations

import openai
import pytest

from app.core.inference.engine import Engine
from app.core.inference.queue import GenerationQueue
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.server.server import ApiServer


@pytest.fixture(scope="module")
def engine(starter_gguf):
    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    yield engine
    engine.unload()


@pytest.fixture
def queue(engine):
    queue = GenerationQueue(engine)
    yield queue
    queue.close()


@pytest.fixture
def serve(queue):
    """``serve(**options)`` starts an ``ApiServer`` over the test's queue (greedy, seeded
    answers unless ``defaults`` says otherwise); ``serve(backend=engine)`` over that engine's
    own queue. Every server is stopped after the test, before its queue is closed."""
    made: list[tuple[ApiServer, GenerationQueue | None]] = []

    def serve(backend=None, **options) -> ApiServer:
        own = GenerationQueue(backend) if backend is not None else None
        options.setdefault("defaults", SamplingOptions(temperature=0.0, seed=1))
        server = ApiServer(own or queue, port=0, **options)
        made.append((server, own))
        server.start()
        return server

    yield serve
    for server, own in made:
        server.stop()
        if own is not None:
            own.close()


@pytest.fixture
def server(serve):
    return serve()


@pytest.fixture
def client(server):
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=60)
    yield client
    client.close()
