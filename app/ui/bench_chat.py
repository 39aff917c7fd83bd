"""``hearth bench chat``: the app's streaming against raw llama-cpp-python, side by side.

Measured in one run on the same model, prompt, settings and seed:
- ``tok_s_app`` / ``tok_s_raw``: generation speed through Hearth's engine, worker thread,
  chat store and transcript, and through a bare ``Llama.create_chat_completion`` stream;
  ``ratio`` is the median of the rounds' own app ÷ raw ratios (each round runs the two back to
  back, so a slow spell of the machine hits both; single runs vary by about ±7% here);
- ``max_stall_ms``: the longest delay of a 5 ms QTimer on the GUI thread while streaming;
- ``per_token_cost_ratio``: GUI time per streamed token with a 10,000-token conversation on
  screen, divided by the same with a 100-token one.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.core.chats import ChatStore
from app.core.engine import Engine, LoadOptions, SamplingOptions
from app.ui.chat_worker import ChatSession
from app.ui.transcript import ShownMessage, Transcript

PROMPT = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper "
           "who finds a message in a bottle."}]
N_CTX = 2048
WORDS = ("The", "keeper", "walked", "along", "the", "shore,", "and", "the", "sea", "was", "calm.")


def _sampling(max_tokens: int) -> SamplingOptions:
    return SamplingOptions(temperature=0.0, max_tokens=max_tokens, seed=7)


def raw_tok_s(model: Path, max_tokens: int, threads: int) -> tuple[float, int]:
    """Bare llama-cpp-python: the same chat call, nothing else."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(model), n_ctx=N_CTX, n_threads=threads,
                          n_threads_batch=threads, verbose=False)
    try:
        first = None
        count = 0
        for chunk in llm.create_chat_completion(PROMPT, stream=True, temperature=0.0,
                                                max_tokens=max_tokens, seed=7, top_k=40,
                                                top_p=0.95, min_p=0.05, repeat_penalty=1.1):
            if chunk["choices"][0]["delta"].get("content"):
                first = first or time.perf_counter()
                count += 1
        return (count - 1) / (time.perf_counter() - first), count
    finally:
        llm.close()


def app_run(model: Path, max_tokens: int, threads: int) -> tuple[float, int, float]:
    """Hearth's path: ChatSession worker thread -> store append -> transcript, with a 5 ms
    probe timer on the GUI thread. Returns (tok/s as the GUI receives the answer, tokens,
    worst timer delay in ms)."""
    session = ChatSession()
    folder = tempfile.TemporaryDirectory(prefix="hearth-bench-")
    store = ChatStore(Path(folder.name) / "chats.sqlite3")
    view = Transcript()
    view.resize(900, 700)
    loop = QEventLoop()
    session.loaded.connect(loop.quit)
    session.load(model, LoadOptions(n_ctx=N_CTX, n_threads=threads))
    loop.exec()
    chat = store.create_chat()
    answer = store.begin_answer(chat.id)
    view.begin_answer(answer)
    times: list[float] = []
    delays: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    finished: list = []

    def on_token(text: str) -> None:  # a chunk: the worker batches tokens (TextBatcher)
        times.append(time.perf_counter())
        store.append_to_answer(answer, text)
        view.append_to_answer(text)

    def tick() -> None:
        now = clock.nsecsElapsed()
        delays.append((now - last[0]) / 1e6 - 5.0)
        last[0] = now

    probe = QTimer(interval=5)
    probe.timeout.connect(tick)
    session.token.connect(on_token)
    session.finished.connect(finished.append)
    session.finished.connect(loop.quit)
    session.failed.connect(loop.quit)
    probe.start()
    session.send(PROMPT, SamplingOptions(temperature=0.0, max_tokens=max_tokens, seed=7))
    loop.exec()
    probe.stop()
    session.shutdown()
    store.close()
    folder.cleanup()
    # The first chunk is the first token alone; the last arrives when the last token is made.
    tokens = finished[0].tokens if finished else 0
    tok_s = (tokens - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return tok_s, tokens, max(delays[1:] or [0.0])


def per_token_cost(conversation_tokens: int, answer_tokens: int = 400) -> float:
    """GUI seconds per streamed token (append + the frame renders it causes)."""
    view = Transcript()
    view.resize(900, 700)
    words_per_message = 100
    messages = []
    for i in range(max(1, conversation_tokens // words_per_message)):
        text = " ".join(WORDS[j % len(WORDS)] for j in range(words_per_message))
        messages.append(ShownMessage(i + 1, "user" if i % 2 == 0 else "assistant", text))
    view.show_messages(messages)
    app = QApplication.instance()
    app.processEvents()
    view.begin_answer(10**6)
    started = time.perf_counter()
    for i in range(answer_tokens):
        view.append_to_answer(" " + WORDS[i % len(WORDS)] + ("\n\n" if i % 60 == 59 else ""))
        view._render_tail()  # one render per token: the worst case (no frame coalescing)
    return (time.perf_counter() - started) / answer_tokens


def run_chat_benchmark(model: Path, max_tokens: int = 512, rounds: int = 5,
                       threads: int = 0) -> dict:
    QApplication.instance() or QApplication([])
    threads = threads or Engine.default_threads()
    raw, app, stalls, counts = [], [], [], []
    for _ in range(rounds):  # interleaved, so load on the machine hits both alike
        tok_s, count = raw_tok_s(model, max_tokens, threads)
        raw.append(tok_s)
        tok_s_app, count_app, stall = app_run(model, max_tokens, threads)
        app.append(tok_s_app)
        stalls.append(stall)
        counts.append((count, count_app))
    small = statistics.median(per_token_cost(100) for _ in range(3))
    large = statistics.median(per_token_cost(10_000) for _ in range(3))
    tok_s_app, tok_s_raw = statistics.median(app), statistics.median(raw)
    ratios = [a / r for a, r in zip(app, raw)]
    return {
        "model": str(model), "tokens": counts[-1][1], "rounds": rounds, "threads": threads,
        "tok_s_app": round(tok_s_app, 2), "tok_s_raw": round(tok_s_raw, 2),
        "ratio": round(statistics.median(ratios), 3),
        "round_ratios": [round(r, 3) for r in ratios],
        "max_stall_ms": round(max(stalls), 1),
        "per_token_ms_100": round(small * 1000, 3), "per_token_ms_10000": round(large * 1000, 3),
        "per_token_cost_ratio": round(large / small, 3),
    }


def format_chat_result(result: dict) -> str:
    return "\n".join([
        f"Chat streaming on {Path(result['model']).name}, {result['tokens']} tokens, "
        f"median of {result['rounds']} rounds, {result['threads']} threads:",
        f"  tok/s app {result['tok_s_app']:.1f} / raw llama-cpp-python {result['tok_s_raw']:.1f}"
        f"   ratio {result['ratio']:.3f}   (bar >= 0.97; median of the rounds' ratios "
        f"{', '.join(f'{r:.3f}' for r in result['round_ratios'])})",
        f"  worst GUI stall while streaming: {result['max_stall_ms']:.1f} ms   (bar <= 30 ms)",
        f"  GUI cost per token: {result['per_token_ms_10000']:.3f} ms with a 10,000-token chat"
        f" / {result['per_token_ms_100']:.3f} ms with a 100-token one = "
        f"{result['per_token_cost_ratio']:.3f}   (bar <= 1.5)",
    ])
