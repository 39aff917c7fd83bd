"""Remote backends: chat with a model served by any OpenAI-compatible server.

A ``Connection`` (name, base URL, optional API key) points at vLLM, SGLang, TGI, Ollama,
LM Studio, llama.cpp's server or another Hearth. ``RemoteBackend`` streams a chat from it with
the same interface as the local engine (``generate``/``chat``, ``request_stop``, stats), over
the standard library's ``http.client``. Connections are saved in ``connections.json`` in the
config folder; API keys are stored there (readable by this user only) and never logged.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from app.core.common.errors import RemoteAuthError, RemoteContextFull, RemoteError
from app.core.common.json_file import Damaged, Loaded, read_json, write_json
from app.core.common.paths import default_paths
from app.core.inference.remote_context import ContextEstimate, context_full
from app.core.inference.stop import StopEvent
from app.core.inference.types import GenerationStats, SamplingOptions

if TYPE_CHECKING:
    # Imported where a request is made: with ssl and email it was 23 ms of CPU on the studio's
    # start, which builds the connection list but asks no server (issue 19).
    import http.client

log = logging.getLogger("hearth.remote")

SCHEMA_VERSION = 1
TIMEOUT_S = 60.0  # connect and between two reads
MAX_ERROR_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a whole (not streamed) answer


@dataclass(frozen=True)
class Connection:
    """A saved remote server. ``api_key`` is left out of ``repr`` so it never reaches a log."""

    name: str
    base_url: str
    api_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalize_url(self.base_url))
        object.__setattr__(self, "api_key", self.api_key.strip())  # pasted keys carry newlines


def normalize_url(url: str) -> str:
    """``http://host:port`` or ``.../v1`` as given by the user → the API root, without a slash."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(
            f"'{url}' is not a server address: give one like http://127.0.0.1:8080/v1."
        )
    return url if parts.path else url + "/v1"


# Held through each read-modify-write of the file: the window changes it on the thread pool,
# and two changes at once would each write the list without the other's change.
_changing = threading.Lock()


class ConnectionStore:
    """The saved connections, in one small JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_paths().config_dir / "connections.json"

    def connections(self) -> list[Connection]:
        """The saved connections. A damaged file is set aside (``read_json``) and RemoteError
        says so, once: the next call finds no file and lists none."""
        loaded = self._load()
        if loaded.message:
            raise RemoteError(loaded.message)
        return loaded.value

    def _load(self) -> Loaded[list[Connection]]:
        return read_json(
            self.path,
            "Your saved connections",
            _parse_connections,
            list,
            dump=_dump_connections,
            private=True,
        )

    def get(self, name: str) -> Connection:
        for connection in self.connections():
            if connection.name == name:
                return connection
        raise RemoteError(f"No saved connection is called '{name}'.")

    def save(self, connection: Connection) -> None:
        """Add ``connection``, or replace the one with the same name."""
        with _changing:
            kept = [c for c in self._load().value if c.name != connection.name]
            self._write(kept + [connection])

    def remove(self, name: str) -> None:
        with _changing:
            self._write([c for c in self._load().value if c.name != name])

    def _write(self, connections: list[Connection]) -> None:
        try:
            write_json(self.path, _dump_connections(connections), private=True)  # API keys
        except OSError as exc:
            raise RemoteError(
                f"The connections could not be saved to {self.path}: {exc.strerror or exc}."
            ) from exc


def _dump_connections(connections: list[Connection]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "connections": [asdict(c) for c in connections]}


def _parse_connections(raw: object, notes: list[str]) -> list[Connection]:
    """``{"connections": [{"name", "base_url", "api_key"}...]}``; an entry that is not one is
    dropped (and noted), the others kept."""
    if not isinstance(raw, dict) or not isinstance(raw.get("connections"), list):
        raise Damaged("it does not hold a list of connections")
    found = []
    for number, entry in enumerate(raw["connections"], 1):
        fields_ok = (
            isinstance(entry, dict)
            and all(isinstance(entry.get(k, ""), str) for k in ("name", "base_url", "api_key"))
            and entry.get("name")
            and entry.get("base_url")
        )
        try:
            if not fields_ok:
                raise RemoteError("not a connection")
            found.append(Connection(entry["name"], entry["base_url"], entry.get("api_key", "")))
        except RemoteError:
            notes.append(f"entry {number} is not a usable connection")
    return found


class RemoteBackend:
    """One model on one remote server, used like the local engine."""

    def __init__(self, connection: Connection, model: str, timeout: float = TIMEOUT_S) -> None:
        self.connection = connection
        self.model = model
        self.timeout = timeout
        self._stop = StopEvent()  # request_stop: shuts the answer's socket at once
        self.context = ContextEstimate()  # what the server said of the last chat it refused
        self._max_tokens = 0  # the answer's tokens asked for last

    def model_name(self) -> str:
        return self.model

    def list_models(self) -> list[str]:
        return list_models(self.connection, self.timeout)

    def request_stop(self) -> None:
        """Thread-safe: end the answer in progress (its stream is closed at once)."""
        self._stop.set()

    # The rest of the engine's interface, so a ``ChatSession`` can run over a connection.
    @property
    def loaded(self) -> None:
        """No local model is loaded: the remote server holds it."""
        return None

    def unload(self) -> None:
        """Nothing to free locally."""

    def fit_messages(
        self, messages: Sequence[dict[str, Any]], reserve: int
    ) -> list[dict[str, Any]]:
        """The server counts tokens: a chat goes whole until the server refuses one as too
        long (``RemoteContextFull``); then the oldest turns are dropped until it should fit,
        by the server's own count of the refused chat (``remote_context``)."""
        return self.context.fit(messages, max(reserve, self._max_tokens))

    def chat(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop: threading.Event | None = None,
    ) -> GenerationStats:
        """The engine's ``chat``, answered by the remote server."""
        return self.generate(messages, sampling, on_token, stop)

    def generate(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop_event: threading.Event | None = None,
    ) -> GenerationStats:
        self._stop.clear()
        self._max_tokens = max(sampling.max_tokens, 0)
        flags = (self._stop,) if stop_event is None else (self._stop, stop_event)
        body = {
            "model": self.model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if sampling.max_tokens > 0:
            body["max_tokens"] = sampling.max_tokens
        if sampling.seed >= 0:
            body["seed"] = sampling.seed
        body.update(output_fields(sampling))
        started = time.perf_counter()
        try:
            answer = self._stream(body, flags, on_token)
            if answer.empty and not any(flag.is_set() for flag in flags):
                # Nothing at all, not even a reason: some servers (llama-cpp-python's) end a
                # stream they cannot answer so. Asked once more without streaming, they say why.
                answer = self._whole(body, flags, on_token)
        except RemoteContextFull as refused:
            self.context.learn(messages, refused)
            raise
        ended = time.perf_counter()
        first = answer.first or ended
        reason = "user" if any(flag.is_set() for flag in flags) else answer.reason
        tokens = answer.tokens
        if answer.usage and reason != "user":
            tokens = answer.usage.get("completion_tokens") or tokens
        return GenerationStats(
            tokens=tokens,
            prompt_tokens=(answer.usage or {}).get("prompt_tokens") or 0,
            time_to_first_token_s=first - started,
            generation_s=ended - first,
            stop_reason=reason if reason in ("stop", "length", "user") else "stop",
        )

    def _stream(
        self,
        body: dict[str, Any],
        flags: tuple[threading.Event, ...],
        on_token: Callable[[str], None],
    ) -> _Answer:
        import http.client

        answer = _Answer()
        conn, response, sock = _open(
            self.connection, "POST", "/chat/completions", body, self.timeout
        )
        try:
            with _ShutOnStop(flags, sock):
                for event in _events(response):
                    answer.empty = False
                    if any(flag.is_set() for flag in flags):
                        answer.reason = "user"
                        break
                    if "error" in event:
                        raise self._refusal(event)
                    answer.usage = event.get("usage") or answer.usage
                    for choice in event.get("choices") or ():
                        answer.add((choice.get("delta") or {}).get("content"), on_token)
                        if choice.get("finish_reason"):
                            answer.reason = choice["finish_reason"]
        except (OSError, http.client.HTTPException) as exc:
            if not any(flag.is_set() for flag in flags):
                raise RemoteError(
                    f"The connection to {self.connection.name} broke during the "
                    f"answer ({type(exc).__name__})."
                ) from exc
            answer.reason = "user"
        finally:
            conn.close()
        return answer

    def _whole(
        self,
        body: dict[str, Any],
        flags: tuple[threading.Event, ...],
        on_token: Callable[[str], None],
    ) -> _Answer:
        """The answer asked for without streaming: one piece, or the server's error."""
        import http.client

        body = {k: v for k, v in body.items() if k != "stream_options"} | {"stream": False}
        answer = _Answer(empty=False)
        conn, response, sock = _open(
            self.connection, "POST", "/chat/completions", body, self.timeout
        )
        try:
            with _ShutOnStop(flags, sock):
                data = json.loads(response.read(MAX_ANSWER_BYTES))
            if "error" in data:
                raise self._refusal(data)
            if not data.get("choices"):  # an empty answer still has a choice, with its reason
                raise RemoteError(
                    f"{self.connection.name} ended the answer without a word or "
                    "a reason. Try again, or check the server's log."
                )
            choice = data["choices"][0]
            answer.add((choice.get("message") or {}).get("content"), on_token)
            answer.reason = choice.get("finish_reason") or "stop"
            answer.usage = data.get("usage")
        except (OSError, http.client.HTTPException, ValueError, AttributeError) as exc:
            if not any(flag.is_set() for flag in flags):
                raise RemoteError(
                    f"{self.connection.name} sent no answer ({type(exc).__name__})."
                ) from exc
            answer.reason = "user"
        finally:
            conn.close()
        return answer

    def _refusal(self, body: dict[str, Any]) -> RemoteError:
        detail = _message(body)
        return context_full(body, detail) or RemoteError(f"{self.connection.name}: {detail}")


@dataclass
class _Answer:
    """What came of one request: text pieces counted, when the first came, why it ended."""

    empty: bool = True  # no event at all
    tokens: int = 0
    first: float | None = None
    reason: str = "stop"
    usage: dict[str, Any] | None = None

    def add(self, text: str | None, on_token: Callable[[str], None]) -> None:
        if text:
            self.first = self.first or time.perf_counter()
            self.tokens += 1
            on_token(text)


def list_models(connection: Connection, timeout: float = TIMEOUT_S) -> list[str]:
    """The model ids the server lists at ``GET /models``."""
    import http.client

    conn, response, _sock = _open(connection, "GET", "/models", None, timeout)
    try:
        data = json.loads(response.read(16 * 1024 * 1024))
        return [str(m["id"]) for m in data["data"]]
    except TimeoutError as exc:
        raise RemoteError(_unreachable(connection, exc, timeout)) from exc
    except (ValueError, KeyError, TypeError, OSError, http.client.HTTPException) as exc:
        raise RemoteError(
            f"{connection.name} did not answer with a model list "
            f"({type(exc).__name__}). Is it an OpenAI-compatible server?"
        ) from exc
    finally:
        conn.close()


def _open(
    connection: Connection, method: str, path: str, body: dict[str, Any] | None, timeout: float
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, socket.socket | None]:
    """The connection, its response and its socket (kept here: http.client lets go of it
    when the server closes the connection after the answer, an HTTP/1.0 server say)."""
    import http.client

    parts = urlsplit(connection.base_url)
    if not parts.hostname:  # normalize_url refuses such an address when it is saved
        raise RemoteError(f"'{connection.base_url}' is not a server address.")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=timeout)
    headers = {"Accept": "application/json, text/event-stream", "User-Agent": "Hearth"}
    if connection.api_key:
        headers["Authorization"] = f"Bearer {connection.api_key}"
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, parts.path + path, body=data, headers=headers)
        sock = conn.sock
        response = conn.getresponse()
        if response.status >= 400:
            raise _http_error(connection, response.status, response.read(MAX_ERROR_BYTES), path)
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise RemoteError(_unreachable(connection, exc, timeout)) from exc
    except RemoteError:
        conn.close()
        raise
    return conn, response, sock


def _unreachable(connection: Connection, exc: Exception, timeout: float) -> str:
    where = f"{connection.name} at {connection.base_url}"
    if isinstance(exc, TimeoutError):
        return (
            f"{where} did not answer within {timeout:g} s. Check the address, and that the "
            "server is running and not overloaded."
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"Could not reach {where}: the connection was refused. Is the server running, "
            "and is the port right?"
        )
    if isinstance(exc, socket.gaierror):
        return f"Could not reach {where}: the host name is unknown. Check the address."
    return f"Could not reach {where}: {getattr(exc, 'strerror', None) or type(exc).__name__}."


def _http_error(connection: Connection, status: int, raw: bytes, path: str = "") -> RemoteError:
    try:
        body = json.loads(raw)
        detail = _message(body)
    except ValueError:
        body, detail = None, raw.decode("utf-8", "replace").strip()[:300]
    if status in (400, 413) and (full := context_full(body, detail)) is not None:
        return full
    if status in (401, 403) and not connection.api_key:
        return RemoteAuthError(
            f"{connection.name} needs an API key (HTTP {status}): add the key "
            "the server expects to the connection."
        )
    if status in (401, 403):
        return RemoteAuthError(
            f"{connection.name} refused the API key (HTTP {status}): set the "
            "key the server expects in the connection."
        )
    if status in (404, 405) and path == "/models":
        return RemoteError(
            f"{connection.name} has no OpenAI-compatible API at "
            f"{connection.base_url} (HTTP {status}). Is it an OpenAI-compatible "
            "server? The address usually ends with /v1."
        )
    return RemoteError(f"{connection.name} answered HTTP {status}: {detail or 'no details'}")


def _message(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        return str(error)[:300]
    return str(body)[:300]


def _events(response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream, until ``[DONE]`` or its end."""
    data: list[str] = []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif not line and data:
            payload, data = "\n".join(data), []
            if payload == "[DONE]":
                return
            try:
                yield json.loads(payload)
            except ValueError as exc:
                raise RemoteError(f"The server sent a stream Hearth cannot read ({exc}).") from exc


class _ShutOnStop:
    """While a response is read, a stop shuts its socket so the read ends at once, even while
    the server is still reading the prompt. A ``StopEvent`` does it from the thread that asks
    for the stop; a plain ``threading.Event`` is seen by the reading loop at the next chunk."""

    def __init__(self, flags: tuple[threading.Event, ...], sock: socket.socket | None):
        self._flags, self._sock = flags, sock
        self._forget: list[Callable[[], None]] = []

    def __enter__(self) -> None:
        for flag in self._flags:
            if isinstance(flag, StopEvent):
                self._forget.append(flag.on_set(self._shut))

    def __exit__(self, *exc: object) -> None:
        for forget in self._forget:
            forget()

    def _shut(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # closed meanwhile: the answer has ended anyway
                pass


def output_fields(sampling: SamplingOptions) -> dict[str, Any]:
    """The request fields for what ``sampling`` asks beyond the basics (penalties, logit bias,
    a JSON answer), passed on to the remote server rather than dropped."""
    fields: dict[str, Any] = {}
    if sampling.presence_penalty:
        fields["presence_penalty"] = sampling.presence_penalty
    if sampling.frequency_penalty:
        fields["frequency_penalty"] = sampling.frequency_penalty
    if sampling.logit_bias:
        fields["logit_bias"] = {str(token): bias for token, bias in sampling.logit_bias}
    if sampling.response_format == "json_object":
        fields["response_format"] = {"type": "json_object"}
    elif sampling.response_format == "json_schema":
        fields["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": json.loads(sampling.json_schema)},
        }
    return fields
