"""GGUF headers read from the first bytes of real files: locally, and from a Hub on 127.0.0.1
(tests/support/hub_server.py) through huggingface_hub's own HTTP client, with Range requests."""

from __future__ import annotations

import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from gguf import GGUFReader

from app.core.common.errors import HubError, ModelFileError
from app.core.fit import estimate
from app.core.fit.shape import shape_from_hub
from app.core.gguf.header import (
    TruncatedHeaderError,
    parse_header,
    read_local_header,
    read_remote_header,
)

MB = 1024 * 1024
REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"


def range_ends(hub, filename: str) -> list[int]:
    """The last byte asked for by each GET of ``filename`` on the CDN."""
    ends = []
    for request in hub.requests_matching(f"file={filename}", method="GET"):
        assert "range" in request.headers, "the whole file was requested"
        ends.append(int(request.headers["range"].rsplit("-", 1)[1]))
    return ends


@pytest.fixture
def hub(loopback_hub, quant_ladder):
    loopback_hub.add_repo(REPO, {p.name: p for p in quant_ladder.values()})
    return loopback_hub


def test_header_matches_the_reference_reader(quant_ladder):
    path = quant_ladder["Q4_K_M"]
    header, reference = read_local_header(path), GGUFReader(path)

    assert header.data_offset == reference.data_offset
    assert [(t.name, t.ggml_type, t.shape, t.nbytes) for t in header.tensors] == [
        (t.name, int(t.tensor_type), tuple(int(d) for d in t.shape), int(t.n_bytes))
        for t in reference.tensors
    ]
    assert header.get("llama.block_count") == 30
    assert (
        header.get("tokenizer.chat_template")
        == reference.fields["tokenizer.chat_template"].contents()
    )
    assert header.array_lengths["tokenizer.ggml.tokens"] == 49152
    assert header.get("tokenizer.ggml.tokens") is None  # long arrays: length only


def test_a_prefix_that_ends_inside_the_header_asks_for_more(starter_gguf):
    data = starter_gguf.read_bytes()[: 3 * MB]
    full = parse_header(data)
    for cut in (10, 1000, 500_000, full.data_offset - 100):
        with pytest.raises(TruncatedHeaderError) as short:
            parse_header(data[:cut])
        assert cut < short.value.needed <= full.data_offset


def test_not_a_gguf_file(tmp_path):
    with pytest.raises(ModelFileError, match="not a GGUF"):
        parse_header(b"PK\x03\x04" + bytes(100))
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 5, 3) + b"\x05\x00")  # cut in a key
    with pytest.raises(ModelFileError, match="truncated"):
        read_local_header(truncated)


def test_hub_header_is_read_from_the_first_megabytes_only(hub, quant_ladder):
    path = quant_ladder["F16"]  # 270 MB on the Hub
    remote = read_remote_header(REPO, path.name, endpoint=hub.url, token=False)

    assert remote.file_size == path.stat().st_size
    assert remote.header.tensors == read_local_header(path).tensors
    assert range_ends(hub, path.name) == [2 * MB - 1]  # one request of 2 MB was enough
    shape = estimate.shape_from_header(remote.header, remote.file_size, path.name)
    assert estimate.estimate(shape, 4096) == estimate.estimate(estimate.shape_from_file(path), 4096)


def test_the_range_grows_until_the_header_parses(hub, quant_ladder):
    path = quant_ladder["Q2_K"]
    remote = read_remote_header(
        REPO, path.name, endpoint=hub.url, token=False, first_bytes=128 * 1024
    )

    assert remote.header.data_offset == read_local_header(path).data_offset  # 1.7 MB
    ends = range_ends(hub, path.name)
    assert len(ends) >= 3 and ends == sorted(ends)
    assert ends[-1] < 4 * MB and remote.bytes_read == ends[-1] + 1


def test_gated_repo_needs_a_token_and_the_token_stays_off_the_cdn(loopback_hub, starter_gguf):
    loopback_hub.add_repo("meta/Gated-GGUF", {starter_gguf.name: starter_gguf}, gated=True)
    loopback_hub.valid_tokens.add("hf_granted")

    with pytest.raises(HubError, match="gated"):
        read_remote_header(
            "meta/Gated-GGUF", starter_gguf.name, endpoint=loopback_hub.url, token=False
        )
    remote = read_remote_header(
        "meta/Gated-GGUF", starter_gguf.name, endpoint=loopback_hub.url, token="hf_granted"
    )
    assert remote.header.get("general.architecture") == "llama"
    (cdn,) = loopback_hub.requests_matching("/repos/", method="GET")
    assert "authorization" not in cdn.headers


def test_missing_repo_and_file_are_plain_errors(hub):
    with pytest.raises(HubError, match="no model repository"):
        read_remote_header("nobody/Nothing-GGUF", "x.gguf", endpoint=hub.url, token=False)
    with pytest.raises(HubError, match="has no file"):
        read_remote_header(REPO, "SmolLM2-Q9_9.gguf", endpoint=hub.url, token=False)


def test_a_file_that_is_not_a_gguf_falls_back_to_its_size(loopback_hub):
    loopback_hub.add_repo("org/Odd-GGUF", {"Odd-Q4_K_M.gguf": b"<html>not a model</html>" * 900})
    remote = read_remote_header(
        "org/Odd-GGUF", "Odd-Q4_K_M.gguf", endpoint=loopback_hub.url, token=False
    )
    assert remote.header is None and remote.file_size == 24 * 900
    assert "GGUF" in remote.error
    shape = shape_from_hub(
        "org/Odd-GGUF", "Odd-Q4_K_M.gguf", endpoint=loopback_hub.url, token=False
    )
    assert not shape.exact and shape.file_size == 24 * 900 and shape.quant == "Q4_K_M"


def test_unreachable_hub_is_a_plain_error():
    with pytest.raises(HubError, match="Could not reach"):
        read_remote_header(REPO, "x.gguf", endpoint="http://127.0.0.1:9", token=False)


def test_a_server_that_ignores_range_is_read_only_as_far_as_needed(starter_gguf):
    """A plain server (no Range support, 200 with the whole file): the stream is closed once
    the header has parsed, long before the 98 MB body ends."""
    body = starter_gguf.read_bytes()
    sent = []

    class WholeFile(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for start in range(0, len(body), 256 * 1024):
                    self.wfile.write(body[start : start + 256 * 1024])
                    sent.append(start)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), WholeFile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        remote = read_remote_header(
            "org/Plain",
            starter_gguf.name,
            endpoint=f"http://127.0.0.1:{server.server_address[1]}",
            token=False,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert remote.header.get("general.architecture") == "llama"
    assert remote.file_size == len(body) and remote.bytes_read == 2 * MB
