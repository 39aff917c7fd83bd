"""Browser-based chat UIs and launchers: CORS preflights and origins, ``HEAD``, ``/health``.
Raw HTTP on 127.0.0.1 (a browser's requests, as it sends them), the real starter model."""

import functools
import http.client
import json

import pytest

from app.core.inference.engine import Engine

KEY = "sk-browser-test"
CHAT = json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})


@pytest.fixture
def serve(serve):
    """The shared ``serve``, with an API key (web pages must get past it and CORS)."""
    return functools.partial(serve, api_key=KEY)


def ask(server, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def preflight(server, origin):
    return ask(
        server,
        "OPTIONS",
        "/v1/chat/completions",
        {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
        },
    )


def test_a_page_on_this_computer_may_call_the_server(serve):
    server = serve()
    origin = "http://localhost:3000"
    status, headers, _ = preflight(server, origin)  # no API key: browsers send none here
    assert status == 204 and headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "x-stainless-os" in headers["Access-Control-Allow-Headers"]
    auth = {"Origin": origin, "Authorization": f"Bearer {KEY}"}
    status, headers, body = ask(server, "POST", "/v1/chat/completions", auth, CHAT)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
    assert json.loads(body)["choices"][0]["message"]["content"]
    streamed = json.dumps({**json.loads(CHAT), "stream": True})
    status, headers, body = ask(server, "POST", "/v1/chat/completions", auth, streamed)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
    assert body.count(b"data: ") >= 2


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:8081", "https://[::1]", "app://obsidian.md", "vscode-webview://x"]
)
def test_pages_of_this_computers_sites_and_apps_are_allowed(serve, origin):
    status, headers, _ = preflight(serve(), origin)
    assert status == 204 and headers["Access-Control-Allow-Origin"] == origin


def test_a_page_from_elsewhere_is_refused_unless_allowed(serve):
    server = serve()
    status, headers, body = preflight(server, "https://evil.example")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert json.loads(body)["error"]["code"] == "origin_not_allowed"
    auth = {"Origin": "https://evil.example", "Authorization": f"Bearer {KEY}"}
    status, _, body = ask(server, "POST", "/v1/chat/completions", auth, CHAT)
    assert (
        status == 403
        and "--allow-origin https://evil.example" in json.loads(body)["error"]["message"]
    )
    server.stop()  # its connection threads joined: every request is noted by now
    assert not [r for r in server.requests() if r.status == 200]  # nothing was generated

    listed = serve(allowed_origins=("https://chat.example",))
    assert preflight(listed, "https://chat.example")[0] == 204
    assert preflight(listed, "https://evil.example")[0] == 403
    anyone = serve(allowed_origins=("*",))
    status, headers, _ = preflight(anyone, "https://evil.example")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://evil.example"


def test_head_gives_the_headers_alone(serve):
    server = serve()
    auth = {"Authorization": f"Bearer {KEY}"}
    status, headers, body = ask(server, "HEAD", "/v1/models", auth)
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    status, headers, _ = ask(server, "GET", "/v1/models", auth)
    assert int(headers["Content-Length"]) == int(
        ask(server, "HEAD", "/v1/models", auth)[1]["Content-Length"]
    )
    assert ask(server, "HEAD", "/v1/chat/completions", auth)[0] == 405


def test_health_says_whether_a_model_is_loaded(serve):
    status, _, body = ask(serve(), "GET", "/health")  # no API key needed
    assert status == 200 and json.loads(body) == {"status": "ok", "model_loaded": True}
    status, headers, body = ask(serve(backend=Engine()), "GET", "/health")
    assert status == 503 and json.loads(body)["model_loaded"] is False
    assert headers["Retry-After"] == "1"
