"""The server panel over the GUI's own inference thread: the real starter model, real requests
from the openai client, the chat and the API taking turns."""

import http.client
import json
import socket
import threading

import openai
import pytest

from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.core.inference.types import LoadOptions, SamplingOptions
from app.ui.server.panel import LogRole, ServerPanel
from app.ui.session.session import ChatSession
from tests.support.replies import follow
from tests.support.screenshots import screenshot

MODEL = "SmolLM2-135M-Instruct.Q4_1"
QUESTION = [{"role": "user", "content": "Name the capital city of France."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]
MS = 90_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def session(qtbot, starter_gguf):
    session = ChatSession()
    with qtbot.waitSignal(session.loaded, timeout=MS):
        session.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    yield session
    session.shutdown()


@pytest.fixture
def panel(qtbot, session):
    panel = ServerPanel(
        session,
        Settings(sampling=Sampling(temperature=0.0, seed=1, max_tokens=64)),
        port=free_port(),
    )
    qtbot.addWidget(panel)
    yield panel
    panel.shutdown()


def in_thread(qtbot, fn):
    """Run a blocking client call off the GUI thread, keeping the GUI's events flowing."""
    result = {}

    def call():
        try:
            result["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - re-raised in the test
            result["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    return thread, result


def finish(qtbot, thread, result):
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=MS)
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def ask(panel, messages=QUESTION, max_tokens=24):
    with openai.OpenAI(base_url=panel.server.url, api_key="x", max_retries=0, timeout=60) as c:
        return c.chat.completions.create(model=MODEL, messages=messages, max_tokens=max_tokens)


def test_toggle_serves_and_logs_requests(qtbot, panel, qtmodeltester):
    port = panel.port_box.value()
    assert panel.toggle.text() == f"Serve the loaded model on http://127.0.0.1:{port}"
    with qtbot.waitSignal(panel.serving_changed, timeout=5000) as on:
        panel.toggle.setChecked(True)
    assert on.args == [True] and panel.server.url == f"http://127.0.0.1:{port}/v1"
    assert not panel.port_box.isEnabled()

    reply = finish(qtbot, *in_thread(qtbot, lambda: ask(panel)))
    assert "Paris" in reply.choices[0].message.content
    qtbot.waitUntil(lambda: panel.log_model.rowCount() == 1, timeout=5000)
    row = panel.log_model.index(0, 0)
    assert row.data(LogRole.Path) == "/v1/chat/completions"
    assert row.data(LogRole.Status) == 200
    assert row.data(LogRole.Tokens) == reply.usage.completion_tokens > 0
    cells = [panel.log_model.index(0, c).data() for c in range(panel.log_model.columnCount())]
    assert cells[1:5] == [
        "POST",
        "/v1/chat/completions",
        "200 OK",
        str(reply.usage.completion_tokens),
    ]
    qtmodeltester.check(panel.log_model)

    with qtbot.waitSignal(panel.serving_changed, timeout=10_000) as off:
        panel.toggle.setChecked(False)
    assert off.args == [False] and panel.server is None and panel.port_box.isEnabled()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_network_switch_warns(panel):
    assert not panel.network_warning.isVisibleTo(panel)
    panel.network_box.setChecked(True)
    assert panel.network_warning.isVisibleTo(panel) and panel.host == "0.0.0.0"
    assert "every network interface" in panel.toggle.text()


def test_a_port_in_use_is_shown_and_the_toggle_goes_back(qtbot, session):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        panel = ServerPanel(session, port=taken.getsockname()[1])
        qtbot.addWidget(panel)
        panel.toggle.setChecked(True)
    assert not panel.toggle.isChecked() and panel.server is None
    assert "already in use" in panel.status_label.text()


def test_api_requests_wait_for_the_chat_and_take_their_turn(qtbot, panel, session):
    """A request arriving while the chat answers waits; its answer holds only its own tokens."""
    panel.toggle.setChecked(True)
    tokens, finished = [], []
    # Where each answer ends in the streamed text (tokens arrive in chunks: count characters).
    follow(
        session,
        token=tokens.append,
        finished=lambda stats: finished.append((stats, len("".join(tokens)))),
    )
    session.send(STORY, SamplingOptions(temperature=0.0, max_tokens=80))  # the chat's answer
    assert session.busy
    thread, result = in_thread(qtbot, lambda: ask(panel, max_tokens=16))
    qtbot.waitUntil(lambda: panel.backend.waiting == 1, timeout=MS)
    assert not finished  # the request arrived while the chat was answering
    reply = finish(qtbot, thread, result)
    qtbot.waitUntil(lambda: len(finished) == 2 and not session.busy, timeout=MS)
    (chat_stats, chat_end), (api_stats, api_end) = finished
    assert chat_stats.tokens == 80  # the chat was not cut short by the request
    assert reply.usage.completion_tokens == api_stats.tokens
    assert reply.choices[0].message.content == "".join(tokens)[chat_end:api_end]


def test_a_client_gone_while_waiting_is_never_run(qtbot, panel, session):
    panel.toggle.setChecked(True)
    finished = []
    follow(session, finished=finished.append)
    session.send(STORY, SamplingOptions(temperature=0.0, max_tokens=400))
    body = json.dumps({"model": MODEL, "messages": QUESTION, "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", panel.port_box.value()), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        qtbot.waitUntil(lambda: panel.backend.waiting == 1, timeout=MS)
    qtbot.waitUntil(lambda: panel.backend.waiting == 0, timeout=10_000)  # noticed, dropped
    assert session.busy and not finished  # while the chat was still answering
    session.stop()
    qtbot.waitUntil(lambda: len(finished) == 1 and not session.busy, timeout=MS)
    qtbot.wait(300)
    assert len(finished) == 1 and not session.busy
    qtbot.waitUntil(lambda: panel.log_model.rowCount() == 1, timeout=5000)
    assert panel.log_model.index(0, 0).data(LogRole.Status) == 499


def test_the_chat_session_runs_over_a_remote_connection(qtbot, starter_gguf):
    """Chat over a remote backend: the GUI's ChatSession streams, stops and reports stats."""
    from app.core.inference.host.hosted_engine import HostedEngine
    from app.core.inference.queue import GenerationQueue
    from app.core.inference.remote import Connection, RemoteBackend
    from app.core.server.server import ApiServer

    engine = HostedEngine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_threads=1))
    queue = GenerationQueue(engine)
    server = ApiServer(queue, port=0, api_key="sk-gui-remote-1")
    server.start()
    session = ChatSession(
        engine=RemoteBackend(Connection("box", server.url, "sk-gui-remote-1"), MODEL)
    )
    try:
        tokens = []
        follow(session, token=tokens.append)
        reply = session.send(QUESTION, SamplingOptions(temperature=0.0, max_tokens=24, seed=1))
        with qtbot.waitSignal(reply.finished, timeout=MS) as done:
            pass
        stats = done.args[0]
        assert "Paris" in "".join(tokens) and stats.tokens == queue.spans[-1].tokens
        assert stats.tokens_per_second > 0 and stats.time_to_first_token_s > 0
        tokens.clear()
        reply = session.send(STORY, SamplingOptions(temperature=0.0, max_tokens=300))
        reply.token.connect(lambda _text: len(tokens) == 3 and reply.stop())
        with qtbot.waitSignal(reply.finished, timeout=MS) as done:
            pass
        assert done.args[0].stop_reason == "user" and 3 <= len(tokens) < 12  # chunks in flight
    finally:
        session.shutdown()
        server.stop()
        queue.close()
        engine.unload()


TALE = "Once upon a time, there was a little"


def complete(panel, stream=False):
    with openai.OpenAI(base_url=panel.server.url, api_key="x", max_retries=0, timeout=60) as c:
        reply = c.completions.create(
            model=MODEL, prompt=TALE, max_tokens=12, temperature=0, stream=stream
        )
        return "".join(chunk.choices[0].text for chunk in reply) if stream else reply


def test_completions_continue_the_prompt_on_the_gui_model(qtbot, panel, session):
    """A raw completion runs on the GUI's inference thread: the prompt is continued as it
    stands, not answered as a chat message."""
    panel.toggle.setChecked(True)
    finished = []
    follow(session, finished=finished.append)
    reply = finish(qtbot, *in_thread(qtbot, lambda: complete(panel)))
    text = reply.choices[0].text
    assert reply.object == "text_completion" and reply.usage.completion_tokens == 12
    assert text.startswith(" ") and text.split()[0].islower(), text  # " girl named ..."
    assert reply.usage.prompt_tokens < 12  # the prompt alone, no chat template around it
    assert finished and finished[-1].tokens == 12 and not session.busy
    streamed = finish(qtbot, *in_thread(qtbot, lambda: complete(panel, stream=True)))
    assert streamed == text
    qtbot.waitUntil(lambda: panel.log_model.rowCount() == 2, timeout=5000)
    assert [panel.log_model.index(r, 0).data(LogRole.Path) for r in range(2)] == [
        "/v1/completions"
    ] * 2
    assert [panel.log_model.index(r, 0).data(LogRole.Status) for r in range(2)] == [200, 200]


def test_a_flood_of_messages_does_not_hold_the_chat(qtbot, panel, session):
    """20,000 tiny messages would take the GUI's inference thread for about half a minute to
    template and count: refused at once, while the chat goes on answering."""
    panel.toggle.setChecked(True)
    tokens, finished = [], []
    follow(session, token=tokens.append, finished=finished.append)
    flood = json.dumps(
        {
            "model": MODEL,
            "max_tokens": 4,  # built before the chat's turn
            "messages": [{"role": "user", "content": "hi"}] * 20_000,
        }
    ).encode()

    def send_flood():
        conn = http.client.HTTPConnection("127.0.0.1", panel.port_box.value(), timeout=60)
        try:
            conn.request(
                "POST", "/v1/chat/completions", flood, {"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            assert response.status == 400
            return json.loads(response.read())["error"]
        finally:
            conn.close()

    session.send(STORY, SamplingOptions(temperature=0.0, max_tokens=200))
    body = finish(qtbot, *in_thread(qtbot, send_flood))
    assert body["code"] == "context_length_exceeded" and "20,000 messages" in body["message"]
    assert session.busy and not finished  # refused while the chat was still answering
    assert panel.backend.waiting == 0
    qtbot.waitUntil(lambda: bool(finished), timeout=MS)
    assert finished[0].tokens == 200 and "".join(tokens)  # the chat's answer, whole
    reply = finish(qtbot, *in_thread(qtbot, lambda: ask(panel, max_tokens=8)))
    assert reply.choices[0].message.content


def test_a_stream_whose_client_left_is_logged_499(qtbot, panel, session):
    panel.toggle.setChecked(True)
    finished = []
    follow(session, finished=finished.append)
    body = json.dumps(
        {"model": MODEL, "messages": STORY, "stream": True, "max_tokens": 300}
    ).encode()
    with socket.create_connection(("127.0.0.1", panel.port_box.value()), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        sock.setblocking(False)  # read between the GUI's events
        seen = b""

        def three_events() -> bool:
            nonlocal seen
            try:
                seen += sock.recv(4096)
            except BlockingIOError:
                pass
            return seen.count(b"data: ") >= 4  # the role, then three pieces of text

        qtbot.waitUntil(three_events, timeout=MS)
        assert seen.startswith(b"HTTP/1.1 200")
    qtbot.waitUntil(lambda: panel.log_model.rowCount() == 1, timeout=10_000)
    row = panel.log_model.index(0, 0)
    assert row.data(LogRole.Status) == 499
    assert panel.log_model.index(0, 3).data() == "499 client left"
    qtbot.waitUntil(lambda: bool(finished), timeout=MS)
    assert finished[0].stop_reason == "user" and finished[0].tokens < 20  # stopped at once
    assert row.data(LogRole.Tokens) == finished[0].tokens


def test_what_the_gui_model_cannot_do_is_refused_as_the_requests_fault(qtbot, panel, session):
    """A token id past the vocabulary is found out in the model's host: the API client still
    gets a 400 naming the parameter, not a server error, and the chat goes on."""
    panel.toggle.setChecked(True)

    def biased():
        with openai.OpenAI(base_url=panel.server.url, api_key="x", max_retries=0, timeout=60) as c:
            return c.chat.completions.create(
                model=MODEL, messages=QUESTION, max_tokens=4, logit_bias={"9999999": 5}
            )

    with pytest.raises(openai.BadRequestError) as refused:
        finish(qtbot, *in_thread(qtbot, biased))
    assert "logit_bias" in refused.value.body["message"]
    assert finish(qtbot, *in_thread(qtbot, lambda: ask(panel))).choices[0].message.content


def test_embeddings_are_said_to_be_served_by_hearth_serve(panel):
    panel.toggle.setChecked(True)
    with (
        openai.OpenAI(base_url=panel.server.url, api_key="x", max_retries=0, timeout=60) as c,
        pytest.raises(openai.APIStatusError) as refused,
    ):
        c.embeddings.create(model=MODEL, input="hello")
    assert refused.value.status_code == 501 and "hearth serve" in refused.value.body["message"]


def test_web_pages_allowed_in_the_settings_may_call_the_studios_server(qtbot, session):
    """The studio's server takes its allowed web origins from the settings file, as
    `hearth serve --allow-origin` does; other sites' pages are refused."""
    panel = ServerPanel(
        session, Settings(api_allowed_origins=["https://chat.example"]), port=free_port()
    )
    qtbot.addWidget(panel)
    try:
        panel.toggle.setChecked(True)

        def preflight(origin):
            conn = http.client.HTTPConnection("127.0.0.1", panel.port_box.value(), timeout=30)
            try:
                conn.request(
                    "OPTIONS",
                    "/v1/chat/completions",
                    headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
                )
                response = conn.getresponse()
                response.read()
                return response.status, response.getheader("Access-Control-Allow-Origin")
            finally:
                conn.close()

        allowed = finish(qtbot, *in_thread(qtbot, lambda: preflight("https://chat.example")))
        refused = finish(qtbot, *in_thread(qtbot, lambda: preflight("https://other.example")))
        assert allowed == (204, "https://chat.example")
        assert refused == (403, None)
    finally:
        panel.shutdown()


def test_the_port_box_keeps_its_width_in_a_wide_window(qtbot, session):
    """At 1920 px the port box stretched across the whole window (issue 19)."""
    panel = ServerPanel(session, Settings(), port=free_port())
    qtbot.addWidget(panel)
    panel.resize(1920, 400)
    panel.show()
    qtbot.waitExposed(panel)
    digits = panel.port_box.fontMetrics().horizontalAdvance("65535")
    assert panel.port_box.width() < digits * 4
    assert panel.key_edit.width() < panel.width() // 2
    assert panel.port_box.width() >= panel.port_box.minimumSizeHint().width()
    screenshot(panel, "server_panel_1920.png")
