"""Run the studio (tests.support.chat_child) and SIGKILL it mid-answer, for the kill tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class StudioEndedEarly(AssertionError):
    """The studio ended by itself (a crash) before it was killed."""


def studio_then_kill(after_chunks: int) -> tuple[int, list[str]]:
    """The chat's id and the chunks the studio showed before it was killed after
    ``after_chunks`` of them. Raises ``StudioEndedEarly`` when it ended on its own."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.chat_child"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    watchdog = threading.Timer(120, child.kill)
    watchdog.start()
    chat_id, tokens = 0, []
    try:
        for line in child.stdout:
            event = json.loads(line)
            chat_id = event.get("chat", chat_id)
            if "token" in event:
                tokens.append(event["token"])
                if len(tokens) >= after_chunks:
                    break
    finally:
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=60)
        watchdog.cancel()
        watchdog.join()
    if child.returncode != -signal.SIGKILL or len(tokens) < after_chunks:
        raise StudioEndedEarly(
            f"the studio ended with {child.returncode} after {len(tokens)} chunks: {err[-2000:]}"
        )
    return chat_id, tokens
