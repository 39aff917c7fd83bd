"""``hearth bench chat``: the app's streaming against raw llama-cpp-python, side by side.

Measured in one run on the same model, prompt, settings and seed:
- ``tok_s_app`` / ``tok_s_raw``: generation speed through Hearth's model host process, worker
  thread, chat store and visible transcript, and through a bare ``Llama.create_chat_completion``
  stream. The two run as separate processes taking turns of a quarter second
  (``app.bench.interleave``), so the machine's own swings in speed (±10% from second to second
  on a shared machine) hit both alike; each side's speed counts only the time it ran.
  ``ratio`` = app ÷ raw over all rounds' tokens; each round's own ratio is printed too;
- ``host_overhead_ms_per_token``: what the app's path adds to each token's time;
  ``load_s_app`` / ``load_s_raw``: loading the model (the app's starts its host process first);
- ``max_stall_ms``: the longest delay of a 5 ms QTimer on the GUI thread while streaming;
  ``max_stall_ms_busy``: the same while another program keeps a core busy;
- ``per_token_cost_ratio``: GUI time per streamed token with a 10,000-token conversation on
  screen, divided by the same with a 100-token one.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from app.bench import chat_child, interleave
from app.bench.chat_child import N_CTX, PROMPT, SEED
from app.bench.chat_path import ChatPath
from app.core.inference.engine import Engine
from app.core.inference.types import SamplingOptions
from app.ui.chat.transcript import ShownMessage, Transcript

WORDS = ("The", "keeper", "walked", "along", "the", "shore,", "and", "the", "sea", "was", "calm.")


def worst_stall_ms(model: Path, max_tokens: int, threads: int) -> float:
    """Hearth's path in this process (ChatSession worker thread -> store append -> visible
    transcript), with a 5 ms probe timer on the GUI thread: its worst delay while streaming."""
    path = ChatPath(model, N_CTX, threads)
    path.begin(PROMPT[0]["content"])
    delays: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        delays.append((now - last[0]) / 1e6 - 5.0)
        last[0] = now

    probe = QTimer(interval=5)
    probe.timeout.connect(tick)
    probe.start()
    path.send(PROMPT, SamplingOptions(temperature=0.0, max_tokens=max_tokens, seed=SEED))
    path.loop.exec()
    probe.stop()
    path.close()
    return max(delays[1:] or [0.0])


def tok_s_in_turns(
    model: Path, max_tokens: int, rounds: int, threads: int
) -> tuple[list[dict], list[dict]]:
    """Raw and app answers, the two processes taking turns; each answer gets ``tok_s`` from
    the time its process ran between its first and last token."""
    children = interleave.run_in_turns(
        [chat_child.command(side, model, max_tokens, rounds, threads) for side in ("raw", "app")]
    )
    sides = []
    for child in children:
        answers = child.result["answers"]
        for answer in answers:
            answer["load_s"] = child.result["load_s"]
        for answer in answers:
            answer["seconds"] = interleave.active_seconds(
                answer["first"], answer["last"], child.pauses
            )
            answer["tok_s"] = (answer["tokens"] - 1) / answer["seconds"]
        sides.append(answers)
    return sides[0], sides[1]


@contextlib.contextmanager
def busy_process():
    """Another program keeping one core busy while the block runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


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
    QApplication.processEvents()
    view.begin_answer(10**6)
    started = time.perf_counter()
    for i in range(answer_tokens):
        view.append_to_answer(" " + WORDS[i % len(WORDS)] + ("\n\n" if i % 60 == 59 else ""))
        view._render_tail()  # one render per token: the worst case (no frame coalescing)
    return (time.perf_counter() - started) / answer_tokens


def run_chat_benchmark(
    model: Path, max_tokens: int = 512, rounds: int = 8, threads: int = 0
) -> dict:
    QApplication.instance() or QApplication([])
    threads = threads or Engine.default_threads()
    raw, app = tok_s_in_turns(model, max_tokens, rounds, threads)
    stall = worst_stall_ms(model, max_tokens, threads)
    with busy_process():
        stall_busy = worst_stall_ms(model, max_tokens, threads)
    small = statistics.median(per_token_cost(100) for _ in range(3))
    large = statistics.median(per_token_cost(10_000) for _ in range(3))

    def pooled(answers: list[dict]) -> float:
        return sum(a["tokens"] - 1 for a in answers) / sum(a["seconds"] for a in answers)

    tok_s_app, tok_s_raw = pooled(app), pooled(raw)
    return {
        "model": str(model),
        "tokens": app[-1]["tokens"],
        "rounds": rounds,
        "threads": threads,
        "in_turns": interleave.can_pause(),
        "tok_s_app": round(tok_s_app, 2),
        "tok_s_raw": round(tok_s_raw, 2),
        "ratio": round(tok_s_app / tok_s_raw, 3),
        # What the host process adds to each token (pipe, frames, the worker's hand-over).
        "host_overhead_ms_per_token": round((1 / tok_s_app - 1 / tok_s_raw) * 1000, 3),
        "load_s_app": round(app[0]["load_s"], 2),
        "load_s_raw": round(raw[0]["load_s"], 2),
        "round_ratios": [round(a["tok_s"] / r["tok_s"], 3) for a, r in zip(app, raw)],
        "max_stall_ms": round(stall, 1),
        "max_stall_ms_busy": round(stall_busy, 1),
        "per_token_ms_100": round(small * 1000, 3),
        "per_token_ms_10000": round(large * 1000, 3),
        "per_token_cost_ratio": round(large / small, 3),
    }


def format_chat_result(result: dict) -> str:
    return "\n".join(
        [
            f"Chat streaming on {Path(result['model']).name}, {result['tokens']} tokens, "
            f"{result['rounds']} rounds {'taken in turns' if result['in_turns'] else 'one after the other'}, "
            f"{result['threads']} threads:",
            f"  tok/s app {result['tok_s_app']:.1f} / raw llama-cpp-python {result['tok_s_raw']:.1f}"
            f"   ratio {result['ratio']:.3f}   (bar >= 0.97; rounds "
            f"{', '.join(f'{r:.3f}' for r in result['round_ratios'])})",
            f"  host overhead {result['host_overhead_ms_per_token']:.3f} ms/token; load "
            f"{result['load_s_app']:.2f} s app (host start included) / {result['load_s_raw']:.2f} s raw",
            f"  worst GUI stall while streaming: {result['max_stall_ms']:.1f} ms   (bar <= 30 ms); "
            f"with another CPU-bound process running: {result['max_stall_ms_busy']:.1f} ms",
            f"  GUI cost per token: {result['per_token_ms_10000']:.3f} ms with a 10,000-token chat"
            f" / {result['per_token_ms_100']:.3f} ms with a 100-token one = "
            f"{result['per_token_cost_ratio']:.3f}   (bar <= 1.5)",
        ]
    )
