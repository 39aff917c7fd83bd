"""The two sides ``hearth bench chat`` times in turns: ``hearth --bench-chat-child raw|app ...``.

- ``raw``: a bare llama-cpp-python ``Llama`` streaming ``create_chat_completion``;
- ``app``: Hearth's path as the Chat page runs it: ``ChatSession`` (engine in its worker
  thread) -> the GUI thread appends each chunk to the chat store and to a visible transcript.

Both answer the same prompt with the same settings and seed ``rounds`` times, after a short
warm-up, and print one JSON line: per answer the tokens and the ``time.monotonic()`` of its
first and last token (the app's as the GUI thread receives them). ``app.core.interleave``
pauses and resumes them in turns, and knows when each was paused.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

FLAG = "--bench-chat-child"
PROMPT = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper "
           "who finds a message in a bottle."}]
N_CTX = 2048
SEED = 7
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
    answers = run(model, max_tokens, rounds, threads)
    print(json.dumps({"side": side, "answers": answers}), flush=True)
    return 0


def _ready() -> None:
    """Tell the runner this side is loaded and warm, then wait for its go."""
    print("ready", flush=True)
    sys.stdin.readline()


def _raw_answers(model: Path, max_tokens: int, rounds: int, threads: int) -> list[dict]:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(model), n_ctx=N_CTX, n_threads=threads,
                          n_threads_batch=threads, verbose=False)

    def answer(tokens: int) -> dict:
        first = None
        count = 0
        for chunk in llm.create_chat_completion(PROMPT, stream=True, temperature=0.0,
                                                max_tokens=tokens, seed=SEED, top_k=40,
                                                top_p=0.95, min_p=0.05, repeat_penalty=1.1):
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


def _app_answers(model: Path, max_tokens: int, rounds: int, threads: int) -> list[dict]:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from app.core.chats import ChatStore
    from app.core.engine import LoadOptions, SamplingOptions
    from app.ui.chat_worker import ChatSession
    from app.ui.transcript import ShownMessage, Transcript

    app = QApplication.instance() or QApplication([])
    session = ChatSession()
    folder = tempfile.TemporaryDirectory(prefix="hearth-bench-")
    store = ChatStore(Path(folder.name) / "chats.sqlite3")
    view = Transcript()
    view.resize(900, 700)
    view.show()
    loop = QEventLoop()
    session.loaded.connect(loop.quit)
    session.load_failed.connect(loop.quit)
    session.load(model, LoadOptions(n_ctx=N_CTX, n_threads=threads))
    loop.exec()
    if session.model is None:
        raise SystemExit(f"could not load {model}")
    answer_id = [0]
    times: list[float] = []
    finished: list = []

    def on_token(text: str) -> None:  # as ChatPage._on_token: store, then transcript
        times.append(time.monotonic())
        store.append_to_answer(answer_id[0], text)
        view.append_to_answer(text)

    session.token.connect(on_token)
    session.finished.connect(finished.append)
    session.finished.connect(loop.quit)
    session.failed.connect(loop.quit)

    def answer(tokens: int) -> dict:
        chat = store.create_chat()
        question = store.add_message(chat.id, "user", PROMPT[0]["content"])
        view.show_messages([ShownMessage(question.id, "user", PROMPT[0]["content"])])
        answer_id[0] = store.begin_answer(chat.id)
        view.begin_answer(answer_id[0])
        times.clear()
        finished.clear()
        session.send(PROMPT, SamplingOptions(temperature=0.0, max_tokens=tokens, seed=SEED))
        loop.exec()
        if not finished:
            raise SystemExit("the answer failed")
        app.processEvents()
        return {"tokens": finished[0].tokens, "first": times[0], "last": times[-1]}

    try:
        answer(WARM_UP_TOKENS)
        _ready()
        return [answer(max_tokens) for _ in range(rounds)]
    finally:
        session.shutdown()
        store.close()
        folder.cleanup()
