"""Many local programs at once: every one of them shares 127.0.0.1, so idle keep-alive
connections must not lock the others out, a burst of clients is answered in turn, a refusal is
a readable 429 with ``Retry-After``, and a reused connection answers as fast as a fresh one.
Real sockets on 127.0.0.1, the real starter model behind the queue."""

import http.client
import json
import socket
import statistics
import threading
import time

import openai
import pytest

MODEL = "SmolLM2-135M-Instruct.Q4_1"
STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]


def get_models(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/v1/models")
    response = conn.getresponse()
    response.read()
    return response.status


def wait_until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_idle_pooled_connections_do_not_lock_out_another_program(serve):
    """One program's pool of 8 connections, idle after its requests, fills its address's
    share; another program on the same address still gets ``GET /v1/models`` at once."""
    server = serve(max_per_client=8)
    pool = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30) for _ in range(8)]
    try:
        assert [get_models(conn) for conn in pool] == [200] * 8
        assert wait_until(lambda: server.open_connections == 8, 5)
        other = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            assert get_models(other) == 200
            assert get_models(other) == 200  # and its connection is kept alive
        finally:
            other.close()
        assert server.open_connections <= 8
    finally:
        for conn in pool:
            conn.close()
        server.stop()


def test_idle_connections_are_kept_less_long_while_the_server_is_busy(serve):
    """Two idle keep-alive connections of four allowed: half the server's connections, so one
    is closed after the busy idle time (then the server is less than half full, and the other
    is kept); on a server with room both stay open meanwhile."""
    busy = serve(max_connections=4, busy_idle_timeout=0.5)
    roomy = serve(busy_idle_timeout=0.5)
    conns = [
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for server in (busy, busy, roomy, roomy)
    ]
    try:
        assert [get_models(conn) for conn in conns] == [200] * 4
        assert wait_until(lambda: busy.open_connections == 1)
        assert roomy.open_connections == 2  # still kept alive (120 s)
        assert busy.open_connections == 1
    finally:
        for conn in conns:
            conn.close()
        busy.stop()
        roomy.stop()


@pytest.mark.parametrize("clients", [16, 64])
def test_a_burst_of_clients_is_served_in_turn(serve, clients):
    """16 or 64 programs ask at once with the official client (no retries): every one is
    answered, with its own prompt (echoed before its continuation), none refused."""
    server = serve()
    start = threading.Barrier(clients)
    answers: dict[int, str] = {}
    errors: list[BaseException] = []

    def ask(index: int) -> None:
        prompt = f"Code {index:03d}:"
        try:
            with openai.OpenAI(
                base_url=server.url, api_key="x", max_retries=0, timeout=300
            ) as client:
                start.wait(60)
                reply = client.completions.create(
                    model=MODEL, prompt=prompt, max_tokens=2, echo=True
                )
                answers[index] = reply.choices[0].text
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(clients)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        assert not errors, errors[:3]
        assert sorted(answers) == list(range(clients))
        assert all(text.startswith(f"Code {i:03d}:") for i, text in answers.items())
        # each request is logged just after its answer is sent
        assert wait_until(lambda: [r.status for r in server.requests()].count(200) == clients)
    finally:
        server.stop()


def test_requests_waiting_past_the_limit_get_a_readable_429(serve):
    """With one request allowed to wait for the model per address, a second one while the
    first streams is refused with 429 and ``Retry-After``, read by the official client."""
    server = serve(max_waiting=1)
    client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=60)
    try:
        stream = client.chat.completions.create(
            model=MODEL, messages=STORY, max_tokens=300, stream=True
        )
        next(iter(stream))  # the first one holds the model
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model=MODEL, messages=STORY, max_tokens=2)
        assert refused.value.response.headers["Retry-After"] == "1"
        assert refused.value.body["code"] == "too_many_requests"
        assert "1 requests waiting" in refused.value.body["message"]
        stream.close()
        assert wait_until(lambda: server.requests() and server.requests()[-1].status == 499)
        reply = client.chat.completions.create(model=MODEL, messages=STORY, max_tokens=2)
        assert reply.choices[0].message.content  # served once the first has ended
    finally:
        client.close()
        server.stop()


def test_a_reused_connection_answers_as_fast_as_a_fresh_one(serve):
    """Keep-alive must not cost a delayed-ACK wait (~40 ms a request with headers and body in
    two writes and Nagle on): the median ``GET /v1/models`` on one reused connection is no
    slower than on a fresh connection each time, which also pays for the connect."""
    server = serve()
    try:
        fresh = []
        for _ in range(15):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            assert get_models(conn) == 200
            fresh.append(time.perf_counter() - started)
            conn.close()
        reused = []
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            get_models(conn)
            for _ in range(15):
                started = time.perf_counter()
                assert get_models(conn) == 200
                reused.append(time.perf_counter() - started)
        finally:
            conn.close()
        assert statistics.median(reused) <= statistics.median(fresh), (reused, fresh)
    finally:
        server.stop()


def raw_exchange(server, data: bytes) -> bytes:
    """Send ``data``, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_chunked_request_body_is_read(serve):
    server = serve()
    body = json.dumps({"prompt": "Hello", "max_tokens": 2}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:7], body[7:]))
    try:
        answer = raw_exchange(
            server,
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
        )
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(payload)["usage"]["completion_tokens"] == 2
    finally:
        server.stop()


def test_an_http_1_0_stream_is_not_chunked(serve):
    """HTTP/1.0 has no chunked encoding (RFC 7230 3.3.1): the events come as they are and the
    answer ends when the server closes the connection."""
    server = serve()
    body = json.dumps({"prompt": "Hello", "max_tokens": 3, "stream": True}).encode()
    try:
        answer = raw_exchange(
            server,
            b"POST /v1/completions HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
        )
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and b"chunked" not in head.lower()
        assert payload.startswith(b"data: {") and payload.endswith(b"data: [DONE]\n\n")
        events = [json.loads(e[6:]) for e in payload.split(b"\n\n") if e and e != b"data: [DONE]"]
        assert "".join(e["choices"][0]["text"] for e in events)
    finally:
        server.stop()
