"""Hearth's local API server under fire: malformed requests, huge bodies, a crowd of clients,
clients vanishing mid-answer.

The real server (``ApiServer`` over a ``GenerationQueue`` and the real starter model) on
127.0.0.1, driven with raw sockets. After each fault it must still answer, its answers to bad
requests are 4xx with an OpenAI-shaped error, and its memory stays bounded.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from app.core.inference.engine import Engine
from app.core.inference.queue import GenerationQueue
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.server.server import ApiServer
from tests.faults.tally import CrashDetected, Tally
from tests.support.api_server import serving

pytestmark = pytest.mark.faults

KEY = "sk-TESTSECRET-server-key"
AUTH = f"Authorization: Bearer {KEY}\r\n".encode()
STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]


@pytest.fixture(scope="module")
def engine(starter_gguf) -> Iterator[Engine]:
    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    yield engine
    engine.unload()


@pytest.fixture
def server(engine: Engine) -> Iterator[ApiServer]:
    with serving(
        engine,
        api_key=KEY,
        max_connections=8,
        defaults=SamplingOptions(temperature=0.0, seed=1, max_tokens=8),
    ) as server:
        yield server


@pytest.fixture
def chats(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of messages of each chat the real engine was given: a request refused before
    it waits for the model never shows here, however long its refusal took on this machine."""
    given: list[int] = []
    chat = engine.chat

    def counting_chat(messages, *args, **kwargs):
        given.append(len(messages))
        return chat(messages, *args, **kwargs)

    monkeypatch.setattr(engine, "chat", counting_chat)
    return given


def exchange(
    server: ApiServer, data: bytes, timeout: float = 30, *, stop_sending: bool = False
) -> bytes:
    """Send raw bytes (then, with ``stop_sending``, close our sending side), read until the
    server closes (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if stop_sending:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # it may refuse and close before reading all of a huge request
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        except TimeoutError as exc:
            raise CrashDetected(f"no answer in {timeout} s") from exc
    return answer


def post(body: bytes, headers: bytes = b"") -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + AUTH
        + b"Content-Type: application/json\r\n"
        + headers
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


def status_of(answer: bytes) -> int:
    head = answer.split(b"\r\n", 1)[0].split()
    return int(head[1]) if len(head) > 1 and head[0].startswith(b"HTTP/") else 0


def assert_still_serving(server: ApiServer) -> None:
    answer = exchange(
        server, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + AUTH + b"\r\n"
    )
    if status_of(answer) != 200:
        raise CrashDetected(f"the server stopped answering: {answer[:200]!r}")


def assert_clear_refusal(answer: bytes, statuses: tuple[int, ...] = (400, 411, 413, 414, 431)):
    """A 4xx with a status line and an OpenAI-shaped error body (garbage too: not a bare body,
    as HTTP/0.9 would have it)."""
    status = status_of(answer)
    if status >= 500:
        raise CrashDetected(f"the server failed on it: {answer[:300]!r}")
    body = answer.partition(b"\r\n\r\n")[2]
    assert status in statuses, answer[:300]
    assert json.loads(body)["error"]["message"]


def nested(depth: int) -> bytes:
    return b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"


def chunked(body: bytes) -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + AUTH
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + body
    )


MALFORMED = {
    "binary garbage": b"\x00\x01\x02\xff garbage\r\n\r\n",
    "not HTTP at all": b"HELLO THERE\r\n\r\n",
    "a Content-Length that is not a number": post(b"{}", b"X: y\r\n").replace(
        b"Content-Length: 2", b"Content-Length: abc"
    ),
    "a negative Content-Length": post(b"{}").replace(b"Content-Length: 2", b"Content-Length: -5"),
    "a chunked body that is not JSON": chunked(b"5\r\nhello\r\n0\r\n\r\n"),
    "a chunk size that is not hex": chunked(b"zz\r\nhello\r\n0\r\n\r\n"),
    "a chunk larger than the body limit": chunked(b"FFFFFFF\r\n" + b"a" * 1000),
    "a chunk shorter than its size": chunked(b"50\r\nhello\r\n0\r\n\r\n"),
    "chunks without their end": chunked(b"5\r\nhello\r\n"),
    "a chunk size line of 100 kB": chunked(b"5;" + b"x" * 100_000 + b"\r\nhello\r\n"),
    "invalid JSON": post(b'{"messages": [{"role": "user", "content": "hi"'),
    "invalid UTF-8": post(b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}'),
    "JSON of the wrong shape": post(b'[{"role": "user"}]'),
    "a message of the wrong type": post(b'{"messages": [{"role": "user", "content": 5}]}'),
    "an image part": post(
        json.dumps(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}
                        ],
                    }
                ]
            }
        ).encode()
    ),
    "NaN temperature": post(
        b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'
    ),
    "an absurd max_tokens": post(
        b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000000000000000000000}'
    ),
    "JSON nested 100,000 deep": post(nested(100_000)),
    "a 200 kB header": (
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    ),
    "1,000 headers": b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 1000 + b"\r\n",
    "a 100 kB URL": b"GET /v1/models/" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "a body shorter than announced": post(b"{}").replace(
        b"Content-Length: 2", b"Content-Length: 20"
    )
    + b"",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_request_is_refused_and_the_server_stays_up(
    server: ApiServer, faults: Tally, name: str
) -> None:
    data = MALFORMED[name]
    with faults.inject(f"server request: {name}"):
        # the short body: the client stops sending, as one that went away mid-body
        answer = exchange(
            server,
            data,
            stop_sending=name
            in (
                "a body shorter than announced",
                "a chunk shorter than its size",
                "chunks without their end",
            ),
        )
        assert_clear_refusal(answer)
        assert_still_serving(server)


def rss() -> int:
    return psutil.Process().memory_info().rss


def test_huge_bodies_are_refused_with_memory_bounded(
    server: ApiServer, faults: Tally, chats: list[int]
) -> None:
    before = rss()
    with faults.inject("server: 100 MB announced, 5 MB sent, a 3.9 MB prompt"):
        announced = post(b"{", b"").replace(b"Content-Length: 1", b"Content-Length: 100000000")
        assert status_of(exchange(server, announced)) == 413
        sent = post(b'{"messages": [{"role": "user", "content": "' + b"a" * 5_000_000 + b'"}]}')
        assert status_of(exchange(server, sent)) == 413
        prompt = post(
            json.dumps(
                {"messages": [{"role": "user", "content": "dragon " * 550_000}], "max_tokens": 4}
            ).encode()
        )
        answer = exchange(server, prompt, timeout=60)

        assert status_of(answer) == 400 and b"context_length_exceeded" in answer
        assert chats == []  # refused by its size: never templated or tokenized by the model
        assert_still_serving(server)
        assert rss() - before < 300 * 2**20, "memory grew by more than 300 MB"


def test_a_crowd_of_clients_is_served_or_turned_away(server: ApiServer, faults: Tally) -> None:
    results: list[int] = []
    lock = threading.Lock()
    before = rss()

    def client(index: int) -> None:
        if index % 6 == 0:
            request = post(
                json.dumps(
                    {"messages": [{"role": "user", "content": f"Hi {index}"}], "max_tokens": 3}
                ).encode()
            )
        else:
            request = (
                b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + AUTH + b"\r\n"
            )
        try:
            status = status_of(exchange(server, request, timeout=120))
        except (OSError, CrashDetected):
            status = -1
        with lock:
            results.append(status)

    with faults.inject("server: 48 clients at once (8 connection slots)"):
        threads = [threading.Thread(target=client, args=(i,)) for i in range(48)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)

        assert len(results) == 48 and set(results) <= {200, 503}, sorted(results)
        assert results.count(200) >= 8
        assert_still_serving(server)
        assert rss() - before < 200 * 2**20
        assert wait_until(lambda: server.open_connections == 0)


def refused_answer(server: ApiServer, data: bytes) -> bytes | str:
    """Send a whole request and read the answer; "reset" when the connection was reset."""
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(data)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            return answer
    except ConnectionResetError:
        return "reset"


def test_a_burst_of_refused_clients_reads_its_refusal(engine: Engine, faults: Tally) -> None:
    """Every connection slot held by silent clients: 32 more clients at once, each sending a
    whole chat request, all read a 503 with ``Retry-After`` (the request is drained before
    the socket closes), none a connection reset (24 of 32 were, when it was not)."""
    queue = GenerationQueue(engine)
    server = ApiServer(queue, port=0, api_key=KEY, max_connections=2)
    server.start()
    request = post(json.dumps({"messages": STORY, "max_tokens": 3}).encode())
    answers: list[bytes | str] = []
    lock = threading.Lock()

    def client() -> None:
        answer = refused_answer(server, request)
        with lock:
            answers.append(answer)

    try:
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=30),
            socket.create_connection(("127.0.0.1", server.port), timeout=30),
            faults.inject("server: 32 clients refused at once (every slot held)"),
        ):
            assert wait_until(lambda: server.open_connections == 2)
            threads = [threading.Thread(target=client) for _ in range(32)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert len(answers) == 32 and "reset" not in answers, answers.count("reset")
            assert {status_of(a) for a in answers} == {503}
            assert all(b"\r\nRetry-After: 1\r\n" in a for a in answers)
            bodies = [json.loads(a.partition(b"\r\n\r\n")[2]) for a in answers]
            assert {b["error"]["code"] for b in bodies} == {"server_busy"}
        assert wait_until(lambda: server.open_connections == 0)
        assert_still_serving(server)
    finally:
        server.stop()
        queue.close()


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def stream_then_vanish(server: ApiServer, events: int) -> int:
    """Ask for a long streamed answer, read ``events`` SSE events, then drop the connection."""
    body = json.dumps({"messages": STORY, "max_tokens": 300, "stream": True}).encode()
    seen = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(post(body))
        buffer = b""
        while seen < events:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buffer += chunk
            seen = buffer.count(b"data: ")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    return seen


@pytest.mark.parametrize("events", sorted(random.Random(4).sample(range(1, 40), 3)))
def test_a_client_vanishing_mid_stream_stops_its_answer(
    server: ApiServer, faults: Tally, events: int, caplog
) -> None:
    caplog.set_level("INFO", logger="hearth.server")
    with faults.inject(f"server: a client gone after {events} streamed events"):
        stream_then_vanish(server, events)

        assert wait_until(lambda: any(r.path == "/v1/chat/completions" for r in server.requests()))
        record = [r for r in server.requests() if r.path == "/v1/chat/completions"][-1]
        # stopped at once, and logged as the client closing the request, not as answered
        assert record.status == 499 and record.tokens < events + 10, record
        assert "POST /v1/chat/completions 499 client closed request" in caplog.text
        assert server.backend.spans[-1].stop_reason == "user"
        answer = exchange(server, post(json.dumps({"messages": STORY, "max_tokens": 3}).encode()))
        assert status_of(answer) == 200, answer[:200]  # the next client is served


def timed_exchange(server: ApiServer, data: bytes, timeout: float = 120) -> tuple[bytes, float]:
    started = time.monotonic()
    answer = exchange(server, data, timeout)
    return answer, time.monotonic() - started


def test_a_flood_of_tiny_messages_does_not_hold_the_model(
    server: ApiServer, faults: Tally, chats: list[int]
) -> None:
    """20,000 one-word messages: templating and tokenizing them would hold the one generation
    thread for about half a minute. They are refused before they wait for the model, and a
    client asking at the same time is answered as usual.

    Told by what the model was given, not by seconds: it only ever saw the other client's one
    message, so the flood cannot have held it, however slow this machine is now."""
    flood = post(
        json.dumps(
            {"messages": [{"role": "user", "content": "hi"}] * 20_000, "max_tokens": 4}
        ).encode()
    )
    question = post(
        json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}).encode()
    )
    results: dict[str, bytes] = {}

    def send(name: str, data: bytes) -> None:
        results[name] = exchange(server, data, timeout=120)

    with faults.inject("server: 20,000 tiny messages in one request, another client beside"):
        flooder = threading.Thread(target=send, args=("flood", flood))
        flooder.start()
        time.sleep(0.2)  # the flood first: before the fix it took the queue
        send("question", question)
        flooder.join(120)

        answer = results["flood"]
        assert status_of(answer) == 400, answer[:300]
        error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
        assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
        assert "20,000 messages" in error["message"] and "fewer" in error["message"]
        answer = results["question"]
        assert status_of(answer) == 200, answer[:200]
        assert chats == [1]  # the model was given the question alone, never the flood
        assert_still_serving(server)


def slow_client(
    port: int,
    source: str,
    request: bytes,
    interval: float,
    outcome: dict,
    key: str,
    stop: threading.Event,
    at_once: bytes = b"",
) -> None:
    """Connect from ``source``, send ``at_once``, then ``request`` a byte every ``interval`` s
    (nothing at all when empty); note what the server answered (status, 0 when it closed
    silently, -1 when it never did), how long after the connection was made (a crowd of
    connects overflows the listen backlog: some wait for a SYN sent again 1 or 3 s later), and
    when (``time.monotonic()``)."""
    started = time.monotonic()
    status = -1
    try:
        with socket.socket() as sock:
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", port))
            started = time.monotonic()
            sock.sendall(at_once)
            sock.settimeout(interval)
            sent = 0
            while not stop.is_set():
                if sent < len(request):
                    sock.sendall(request[sent : sent + 1])
                    sent += 1
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                status = status_of(data) if data else 0
                break
    except OSError:
        status = 0
    ended = time.monotonic()
    outcome[key] = (status, ended - started, ended)


def test_slow_clients_cannot_hold_the_connections(engine: Engine, faults: Tally) -> None:
    """16 slow clients from one address (headers a byte every 0.5 s, or nothing at all) against
    16 connection slots: a client from another address is still answered at once, and the slow
    ones are cut off at the request deadline (10 s by default; here 2 s, or four times a short
    answer's own time on this machine now, if that is longer).

    No fixed seconds, so that a busy machine cannot fail it: what happened is told by its order
    (answered before the deadline cut anyone) and by the deadline, itself set from a baseline
    taken in the test. A slow connection is never
    cut before the deadline, whatever the load; one the deadline failed to cut would trickle on
    for minutes (about 250 bytes at 2 a second) or, sending nothing, forever."""
    assert ApiServer(None).request_timeout <= 10
    queue = GenerationQueue(engine)
    defaults = SamplingOptions(temperature=0.0, seed=1, max_tokens=4)
    question = post(
        json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}).encode()
    )
    # The same question alone first, on a server of its own: its answer's own time on this
    # machine, now. The deadline is well above it, so that an answer before the deadline is
    # told apart from one given once the deadline freed a slot.
    with ApiServer(queue, port=0, api_key=KEY, defaults=defaults) as alone:
        answer, baseline = timed_exchange(alone, question)
    assert status_of(answer) == 200, answer[:200]
    deadline = max(2.0, 4 * baseline)
    server = ApiServer(
        queue,
        port=0,
        api_key=KEY,
        max_connections=16,
        max_per_client=8,
        request_timeout=deadline,
        defaults=defaults,
    )
    server.start()
    outcome: dict[str, tuple[int, float, float]] = {}
    stop = threading.Event()
    headers = post(json.dumps({"messages": [{"role": "user", "content": "Hi"}]}).encode())
    head = headers[: headers.index(b"\r\n\r\n") + 4]
    kinds = {
        "headers": (b"", headers),
        "nothing": (b"", b""),  # (sent at once, trickled)
        "body": (head, b"{" + b" " * 200),
    }
    threads = []
    try:
        with faults.inject("server: 16 slowloris clients from one address, 16 slots"):
            for i in range(16):
                kind = list(kinds)[i % 3]
                at_once, trickled = kinds[kind]
                thread = threading.Thread(
                    target=slow_client,
                    args=(
                        server.port,
                        "127.0.0.2",
                        trickled,
                        0.5,
                        outcome,
                        f"{kind}-{i}",
                        stop,
                        at_once,
                    ),
                )
                thread.start()
                threads.append(thread)
            assert wait_until(lambda: server.open_connections >= 8, 30)
            answer, took = timed_exchange(server, question)
            answered = time.monotonic()
            assert status_of(answer) == 200, (took, answer[:200])
            for thread in threads:
                thread.join(15 + 3 * deadline)
            # At most 8 connections for one address: the others are refused at once with a 429,
            # or, when the client's next byte crossed the refusal, a reset (status 0). A held
            # connection cannot end before the deadline, so an earlier reset is a refusal.
            refused = [
                k
                for k, (status, took, _) in outcome.items()
                if status == 429 or (status == 0 and took < deadline)
            ]
            assert len(refused) == 8, outcome
            held = {k: v for k, v in outcome.items() if k not in refused}
            assert len(held) == 8, outcome  # a client never cut off would still be missing
            # The other client was answered at once: before the deadline freed any slot.
            assert answered < min(ended for _, _, ended in held.values()), (took, held)
            # those let in are cut off at the deadline: 408 when they had begun a request
            assert all(deadline <= took < 3 * deadline for _, took, _ in held.values()), held
            assert all(
                status == 408 for k, (status, _, _) in held.items() if not k.startswith("nothing")
            ), held
            assert all(
                status == 0 for k, (status, _, _) in held.items() if k.startswith("nothing")
            ), held
            assert wait_until(lambda: server.open_connections == 0)

        with faults.inject("server: 16 slowloris clients from 16 addresses, 16 slots"):
            outcome.clear()
            threads = [
                threading.Thread(
                    target=slow_client,
                    args=(server.port, f"127.0.0.{10 + i}", headers, 0.5, outcome, str(i), stop),
                )
                for i in range(16)
            ]
            for thread in threads:
                thread.start()
            assert wait_until(lambda: server.open_connections == 16, 30)
            started = time.monotonic()
            while (
                status_of(answer := exchange(server, question)) == 503
                and time.monotonic() - started < 30 + 3 * deadline
            ):
                time.sleep(0.25)
            answered = time.monotonic()
            assert status_of(answer) == 200, answer[:200]
            for thread in threads:
                thread.join(15 + 3 * deadline)
            assert len(outcome) == 16, outcome
            assert all(
                status == 408 and deadline <= took < 3 * deadline
                for status, took, _ in outcome.values()
            ), outcome
            # Answered once the deadline freed the slots: within a poll or two (0.25 s) and its
            # answer's own time, far sooner than another deadline.
            freed = min(ended for _, _, ended in outcome.values())
            assert answered - freed < deadline, (answered - started, freed - started)
            assert_still_serving(server)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        server.stop()
        queue.close()
