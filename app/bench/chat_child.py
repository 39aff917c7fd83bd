"""The two sides ``hearth bench chat`` times in turns: ``hearth --bench-chat-child raw|app ...``.

- ``raw``: a bare llama-cpp-python ``Llama`` streaming ``create_chat_completion``;
- ``app``: Hearth's path as the Chat page runs it: ``ChatSession`` (its worker thread driving
  the model's host process) -> the GUI thread appends each chunk to the chat store and to a visible transcript.

Both answer the same prompt with the same settings and seed ``rounds`` times, after a short
warm-up, and print one JSON line: per answer the tokens and the ``time.monotonic()`` of its
first and last token (the app's as the GUI thread receives them). ``app.bench.interleave``
pauses and resumes them in turns, and knows when each was paused.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, cast

from app.core.config.sampling import Sampling

FLAG = "--bench-chat-child"
PROMPT = [
    {
        "role": "user",
        "content": "Write a long, detailed story about a lighthouse keeper "
        "who finds a message in a bottle.",
    }
]
N_CTX = 2048
SEED = 7
# Both sides sample with these (each ``Sampling`` field is also llama-cpp-python's argument).
SAMPLING = Sampling(temperature=0.0, seed=SEED)
WARM_UP_TOKENS = 16


def command(side: str, model: Path, max_tokens: int, rounds: int, threads: int) -> list[str]:
    args = [FLAG, side, str(model), str(max_tokens), str(rounds), str(threads)]
    if getattr(sys, "frozen", False):  # a bundle: the executable is Hearth
        return [sys.executable, *args]
    return [sys.executable, "-m", "app", *args]


def main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[0] not in ("raw", "app"):
        print(f"usage: hearth {FLAG} raw|app MODEL TOKENS ROUNDS THREADS", file=sys.stderr)
        return 2
    side, model, max_tokens, rounds, threads = argv[0], Path(argv[1]), *map(int, argv[2:])
    run = _raw_answers if side == "raw" else _app_answers
    loaded: dict = {}
    answers = run(model, max_tokens, rounds, threads, loaded)
    print(json.dumps({"side": side, "answers": answers, "load_s": loaded["load_s"]}), flush=True)
    return 0


def _ready() -> None:
    """Tell the runner this side is loaded and warm, then wait for its go."""
    print("ready", flush=True)
    sys.stdin.readline()


def _raw_answers(
    model: Path, max_tokens: int, rounds: int, threads: int, loaded: dict
) -> list[dict]:
    started = time.perf_counter()
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(model),
        n_ctx=N_CTX,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    loaded["load_s"] = time.perf_counter() - started  # importing llama_cpp included

    def answer(tokens: int) -> dict:
        first = None
        count = 0
        stream = llm.create_chat_completion(
            PROMPT,  # type: ignore[arg-type]  # plain message dicts, as its TypedDicts describe
            stream=True,
            **asdict(replace(SAMPLING, max_tokens=tokens)),
        )
        for chunk in cast("Iterator[Any]", stream):  # stream=True: the chunks
            if chunk["choices"][0]["delta"].get("content"):
                first = first or time.monotonic()
                count += 1
        return {"tokens": count, "first": first, "last": time.monotonic()}

    answer(WARM_UP_TOKENS)
    _ready()
    try:
        return [answer(max_tokens) for _ in range(rounds)]
    finally:
        llm.close()


def _app_answers(
    model: Path, max_tokens: int, rounds: int, threads: int, loaded: dict
) -> list[dict]:
    from PySide6.QtWidgets import QApplication

    from app.bench.chat_path import ChatPath
    from app.core.inference.types import SamplingOptions

    app = QApplication.instance() or QApplication([])
    path = ChatPath(model, N_CTX, threads)
    loaded["load_s"] = path.load_s
    times: list[float] = []
    finished: list = []

    def answer(tokens: int) -> dict:
        path.begin(PROMPT[0]["content"])
        times.clear()
        finished.clear()
        reply = path.send(PROMPT, SamplingOptions.of(replace(SAMPLING, max_tokens=tokens)))
        reply.token.connect(lambda _text: times.append(time.monotonic()))
        reply.finished.connect(finished.append)
        path.loop.exec()
        if not finished:
            raise SystemExit("the answer failed")
        app.processEvents()
        return {"tokens": finished[0].tokens, "first": times[0], "last": times[-1]}

    try:
        answer(WARM_UP_TOKENS)
        _ready()
        return [answer(max_tokens) for _ in range(rounds)]
    finally:
        path.close()
