"""Chats under fire: processes SIGKILLed while answers stream, and several writers at once.

After every kill the history reopens with no corruption (``PRAGMA integrity_check``), every piece
a writer reported saved is there, in order, and finished answers are whole. Writers are the
store-level ``tests.faults.chat_writer`` (fast, so most kill points) and the real studio window
(``tests.support.chat_child``: the GUI, the worker thread and llama.cpp; ~10 s a run).
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.core.chats.store import ChatStore
from app.core.common.paths import Paths
from tests.faults.chat_writer import expected
from tests.faults.tally import CrashDetected, Tally
from tests.support import studio_kill

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
ANSWERS, PIECES = 5, 60
KILL_POINTS = sorted(random.Random(10).sample(range(1, ANSWERS * PIECES), 10)) + [
    PIECES,
    2 * PIECES,
]


@dataclass
class Seen:
    """What a writer reported saved: answer -> message id, pieces, finished."""

    ids: dict[int, int] = field(default_factory=dict)
    pieces: dict[int, int] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)
    started: float = 0.0
    ended: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.pieces.values())

    def read(self, line: str) -> None:
        kind, *values = line.split()
        if kind == "begin":
            self.ids[int(values[0])] = int(values[1])
        elif kind == "piece":
            self.pieces[int(values[0])] = int(values[1]) + 1
        elif kind == "finish":
            self.finished.add(int(values[0]))
        elif kind == "go":
            self.started = float(values[0])
        elif kind == "done":
            self.ended = float(values[0])


def writer(db: Path, chat_id: int, tag: str, answers: int = ANSWERS) -> subprocess.Popen:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.faults.chat_writer",
            str(db),
            str(chat_id),
            str(answers),
            str(PIECES),
            tag,
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if child.stdout.readline().strip() != "ready":
        child.kill()
        raise CrashDetected(f"the writer did not start: {child.communicate()[1][-1000:]}")
    return child


def go(*children: subprocess.Popen) -> None:
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()


def follow(child: subprocess.Popen, seen: Seen, until_pieces: int | None = None) -> None:
    """Read the writer's reports (until ``until_pieces`` pieces, then SIGKILL it; or to the end)."""
    watchdog = threading.Timer(60, child.kill)
    watchdog.start()
    try:
        for line in child.stdout:
            seen.read(line)
            if until_pieces is not None and seen.total >= until_pieces:
                child.send_signal(signal.SIGKILL)
                break
        _, err = child.communicate(timeout=60)
    finally:
        watchdog.cancel()
        watchdog.join()
    wanted = -signal.SIGKILL if until_pieces is not None else 0
    if child.returncode != wanted:
        raise CrashDetected(f"the writer ended with {child.returncode}: {err[-1000:]}")


def follow_in_thread(child: subprocess.Popen, seen: Seen) -> tuple[threading.Thread, list]:
    """``follow`` on a thread; what it raised lands in the returned list."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            follow(child, seen)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def joined(thread: threading.Thread, errors: list) -> None:
    thread.join(120)
    if errors:
        raise errors[0]


def assert_intact(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def assert_saved(store: ChatStore, chat_id: int, tag: str, seen: Seen) -> None:
    """Every reported piece is there in order; finished answers whole; nothing torn."""
    answers = [
        m
        for m in store.messages(chat_id)
        if m.role == "assistant" and (not m.content or m.content.startswith(f"<{tag}."))
    ]
    by_id = {m.id: m for m in answers}
    for answer, message_id in seen.ids.items():
        message = by_id[message_id]
        whole = expected(tag, answer, PIECES)
        if answer in seen.finished:
            assert message.complete and message.content == whole, f"answer {answer} is not whole"
        else:
            assert whole.startswith(message.content), f"answer {answer} is torn"
            assert message.content.count("<") >= seen.pieces.get(answer, 0), (
                f"answer {answer} lost pieces that were reported saved"
            )
    for message in answers:  # saved before its report was read (the pipe lags behind the
        if message.id not in seen.ids.values():  # writer): whole when complete, else a prefix
            if message.complete:
                assert any(
                    message.content == expected(tag, answer, PIECES) for answer in range(ANSWERS)
                ), "a finished answer is not whole"
            else:
                assert message.content == "" or any(
                    expected(tag, answer, PIECES).startswith(message.content)
                    for answer in range(ANSWERS)
                )


@pytest.fixture
def chat(hearth_home: Paths) -> int:
    with ChatStore(hearth_home.chats_db) as store:
        chat = store.create_chat("Kill test")
        store.add_message(chat.id, "user", "Go on forever")
    return chat.id


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_writer_killed_mid_stream_keeps_every_saved_piece(
    hearth_home: Paths, chat: int, faults: Tally, point: int
) -> None:
    db = hearth_home.chats_db
    with faults.inject(f"chat writer SIGKILLed after {point} pieces"):
        seen = Seen()
        child = writer(db, chat, "k")
        go(child)
        follow(child, seen, until_pieces=point)

        assert_intact(db)
        with ChatStore(db) as store:  # the first open folds the cut-off answer's pieces
            assert_saved(store, chat, "k", seen)
            first = store.messages(chat)
        with ChatStore(db) as store:  # and folding again changes nothing
            assert store.messages(chat) == first
            store.add_message(chat, "user", "still usable")
        assert_intact(db)


def test_three_writers_at_once_two_on_one_chat(
    hearth_home: Paths, chat: int, faults: Tally
) -> None:
    db = hearth_home.chats_db
    with ChatStore(db) as store:
        other = store.create_chat("Other").id
    with faults.inject("three processes writing the history at once"):
        children = {
            "a": writer(db, chat, "a"),
            "b": writer(db, chat, "b"),
            "c": writer(db, other, "c"),
        }
        go(*children.values())
        seen = {tag: Seen() for tag in children}
        followers = [follow_in_thread(child, seen[tag]) for tag, child in children.items()]
        for thread, errors in followers:
            joined(thread, errors)

        assert_intact(db)
        with ChatStore(db) as store:
            for tag, chat_id in (("a", chat), ("b", chat), ("c", other)):
                assert seen[tag].finished == set(range(ANSWERS))
                assert_saved(store, chat_id, tag, seen[tag])
            positions = [m.position for m in store.messages(chat)]
        assert positions == list(range(1 + 2 * ANSWERS))
        assert max(s.started for s in seen.values()) < min(s.ended for s in seen.values()), (
            "the writers did not overlap"
        )


def test_a_writer_killed_while_another_writes_the_same_chat(
    hearth_home: Paths, chat: int, faults: Tally
) -> None:
    db = hearth_home.chats_db
    with faults.inject("one of two writers on one chat SIGKILLed"):
        victim, survivor = writer(db, chat, "v"), writer(db, chat, "s")
        go(victim, survivor)
        seen_victim, seen_survivor = Seen(), Seen()
        follower = follow_in_thread(survivor, seen_survivor)
        follow(victim, seen_victim, until_pieces=PIECES + 17)
        joined(*follower)

        assert_intact(db)
        with ChatStore(db) as store:
            assert_saved(store, chat, "v", seen_victim)
            assert_saved(store, chat, "s", seen_survivor)
        assert seen_survivor.finished == set(range(ANSWERS))


# -- the real studio window ----------------------------------------------------------------------


def studio_then_kill(after_chunks: int) -> tuple[int, list[str]]:
    try:
        return studio_kill.studio_then_kill(after_chunks)
    except studio_kill.StudioEndedEarly as exc:
        raise CrashDetected(str(exc)) from exc


@pytest.mark.slow
@pytest.mark.parametrize("after_chunks", sorted(random.Random(12).sample(range(2, 30), 2)))
def test_the_studio_killed_mid_answer_while_another_process_writes(
    starter_home: Paths, faults: Tally, after_chunks: int
) -> None:
    db = starter_home.chats_db
    with ChatStore(db) as store:
        side = store.create_chat("Written by another process").id
    with faults.inject(f"studio SIGKILLed after {after_chunks} chunks, a second writer busy"):
        other = writer(db, side, "x", answers=40)
        go(other)
        seen = Seen()
        follower = follow_in_thread(other, seen)
        try:
            chat_id, tokens = studio_then_kill(after_chunks)
        finally:
            joined(*follower)

        assert_intact(db)
        with ChatStore(db) as store:
            answer = store.messages(chat_id)[-1]
            assert answer.role == "assistant" and not answer.complete
            assert answer.content.startswith("".join(tokens)), "tokens shown were not saved"
            assert_saved(store, side, "x", seen)
        assert seen.finished == set(range(40))
