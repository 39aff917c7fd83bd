"""hearth bench serve: Hearth's API server and llama-cpp-python's, the same crowd of streaming
clients against each, on the real starter model."""

from app.bench.serve import format_serve_result, run_serve_benchmark


def test_a_small_crowd_is_answered_by_both_servers(starter_gguf):
    result = run_serve_benchmark(starter_gguf, crowds=(3,), max_tokens=6)
    (run,) = result["runs"]
    assert run["clients"] == run["completed_app"] == run["completed_peer"] == 3
    assert run["mixed_up"] == 0
    assert run["tok_s_app"] > 0 and run["tok_s_peer"] > 0
    assert run["ttft_p95_s_app"] > 0 and run["ttft_p95_s_peer"] > 0
    assert result["models_ms_app"] > 0 and result["models_ms_peer"] > 0
    assert "3 clients at once: answered 3 (Hearth), 3 (peer); mixed up 0" in format_serve_result(
        result
    )
