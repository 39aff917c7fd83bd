"""A fuzzer for the chat history: random damage to a real history, opened as the studio opens it.

Hypothesis draws the damage (whole pages overwritten with random bytes or zeros, a few bytes
changed inside a page, the file cut short, another program's ``-wal`` put beside it) and the
same checks hold for every draw: opening never raises, the store takes a new chat, every
message a plain lookup by id still finds in the damaged file is shown word for word
(``history_forge.readable_messages``), and whatever was set aside is the damaged file, byte for
byte. Each draw counts as one injected fault in the faults summary line.

CI runs a fixed seed (``derandomize``) and ``FUZZ_EXAMPLES`` draws, a few seconds; a longer
local run: ``HEARTH_FUZZ_EXAMPLES=2000 pytest tests/faults/test_store_fuzz.py``.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.core.chats.history import _OPS, ChatHistory, journal_of
from app.core.chats.store import ChatStore
from app.core.storage.writer import Job
from tests.faults.fuzzing import examples, fuzzed
from tests.faults.history_forge import PAGE, make_history, readable_messages, stored_messages
from tests.faults.test_store_faults import foreign_wal

pytestmark = pytest.mark.faults

FUZZ_EXAMPLES = examples(25)


@pytest.fixture(scope="module")
def base_history(tmp_path_factory) -> tuple[bytes, bytes]:
    """A history of 8 chats x 25 messages (its bytes), and another program's -wal."""
    folder = tmp_path_factory.mktemp("fuzz-base")
    path = folder / "chats.sqlite3"
    make_history(path, chats=8, per_chat=25)
    return path.read_bytes(), foreign_wal(folder)


page_damage = st.tuples(
    st.just("page"), st.integers(1, 64), st.sampled_from(["random", "zeros"]), st.integers(0, 2**32)
)
byte_damage = st.tuples(
    st.just("bytes"),
    st.integers(1, 64),
    st.integers(0, PAGE - 1),
    st.binary(min_size=1, max_size=16),
)
cut_damage = st.tuples(st.just("cut"), st.integers(0, 64 * PAGE))
damages = st.lists(st.one_of(page_damage, byte_damage, cut_damage), min_size=1, max_size=4)


def damaged(data: bytes, steps: list[tuple]) -> bytes:
    buffer = bytearray(data)
    pages = len(buffer) // PAGE
    for step in steps:
        if step[0] == "page":
            _, page, fill, seed = step
            start = ((page - 1) % pages) * PAGE
            buffer[start : start + PAGE] = (
                bytes(PAGE) if fill == "zeros" else random.Random(seed).randbytes(PAGE)
            )
        elif step[0] == "bytes":
            _, page, offset, junk = step
            start = ((page - 1) % pages) * PAGE + offset
            buffer[start : start + len(junk)] = junk
            del buffer[len(data) :]  # writing past the end does not grow the file
        else:
            del buffer[step[1] % (len(buffer) + 1) :]
    return bytes(buffer)


def test_no_damage_stops_the_history_or_loses_a_readable_message(faults, base_history):
    """The drawn cases run inside (Hypothesis shows their damage, not the whole tally)."""
    data, wal = base_history

    @fuzzed(FUZZ_EXAMPLES)
    @given(steps=damages, with_foreign_wal=st.booleans())
    # Found by a draw: a leaf page's header damaged (page 12 of this history) failed a scan
    # and a seek into it while a lookup by id still read each of its 10 messages.
    @example(steps=[("bytes", 12, 5, bytes(13) + b"\x01")], with_foreign_wal=False)
    def one_case(steps: list[tuple], with_foreign_wal: bool) -> None:
        bad = damaged(data, steps)
        with faults.inject(
            f"fuzzed chats.sqlite3: {[s[:3] for s in steps]}, foreign -wal: {with_foreign_wal}"
        ):
            check(bad, wal if with_foreign_wal else None)

    one_case()


def check(bad: bytes, wal: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chats.sqlite3"
        path.write_bytes(bad)
        readable = readable_messages(path)  # before the foreign log: it is not the history
        if wal is not None:
            path.with_name(path.name + "-wal").write_bytes(wal)
        with ChatStore(path) as store:
            shown = stored_messages(store)
            missing = {i for i, text in readable.items() if shown.get(i) != text}
            assert not missing, f"readable messages lost: {sorted(missing)[:10]}"
            chat = store.create_chat("after the damage")
            store.add_message(chat.id, "user", "still works")
        for aside in Path(folder).glob("chats.sqlite3.*-*"):
            if aside.name.endswith("-wal"):
                assert wal is None or aside.read_bytes() in (wal, b"")
            elif not aside.name.endswith("-shm"):
                assert aside.read_bytes() == bad, "the damaged file was changed"


# -- the journal a quit could not write (chats.sqlite3.unsaved) ---------------------------------

JOURNAL_ARGS = {  # each kept change's own fields, of the right type or any other
    "chat_id": st.integers(1, 12),
    "message_id": st.integers(1, 400),
    "title": st.text(max_size=8),
    "role": st.sampled_from(["user", "assistant", "narrator"]),
    "content": st.text(max_size=8),
    "text": st.text(max_size=8),
    "position": st.integers(0, 30),
    "settings_json": st.sampled_from(["{}", "[1]", "{"]),
    "stats": st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
journal_job = st.fixed_dictionaries(
    {"op": st.sampled_from(sorted(_OPS)) | st.text(max_size=10) | json_values},
    optional={
        "args": st.fixed_dictionaries(
            {}, optional={k: s | json_values for k, s in JOURNAL_ARGS.items()}
        )
        | json_values
    },
)
journal_line = st.one_of(
    journal_job.map(json.dumps),
    json_values.map(json.dumps),
    st.integers(1, 5000).map(lambda n: "[" * n + "]" * n),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
)
# Changes that remove or rewrite what was written: with one of these kept, a message may go.
REWRITES = {"delete_chat", "truncate_after", "edit_message", "append_to_answer", "finish_answer"}


@pytest.fixture(scope="module")
def small_history(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("journal-base") / "chats.sqlite3"
    make_history(path, chats=3, per_chat=4)
    return path.read_bytes()


def test_no_damaged_journal_stops_the_history_or_loses_a_chat(faults, small_history):
    """Whatever the journal holds (changes of any shape, lines of junk, nesting 5,000 deep),
    the history opens, keeps every message no kept change rewrites, takes new chats, and a
    journal with unreadable lines is set aside byte for byte, with a sentence."""

    @fuzzed(FUZZ_EXAMPLES * 4)
    @given(lines=st.lists(journal_line, max_size=5))
    def one_case(lines: list[str]) -> None:
        data = "".join(line.replace("\n", " ") + "\n" for line in lines).encode("utf-8")
        with faults.inject(f"fuzzed chats.sqlite3.unsaved: {data[:60]!r}"):
            check_journal(small_history, data)

    one_case()


def check_journal(history: bytes, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chats.sqlite3"
        path.write_bytes(history)
        with ChatStore(path) as store:
            before = stored_messages(store)
        journal_of(path).write_bytes(data)
        chats = ChatHistory(ChatStore(path), retry_wait_s=0.01)
        try:
            chat = chats.create_chat("after the journal")
            chats.add_message(chat.id, "user", "still works")
            assert chats.flush(10.0)
        finally:
            assert not chats.close().lost
        rewritten = any(job.op in REWRITES for job in journal_jobs(data))
        with ChatStore(path) as store:
            shown = stored_messages(store)
            if not rewritten:
                lost = {i for i, text in before.items() if shown.get(i) != text}
                assert not lost, f"messages lost: {sorted(lost)}"
            assert "still works" in shown.values()
        assert not journal_of(path).exists(), "the journal is read again at every start"
        aside = list(Path(folder).glob("chats.sqlite3.unsaved.damaged-*"))
        if any(not readable_line(line) for line in data.splitlines()):
            assert aside, "a journal with unreadable lines was not kept"
        assert len(aside) <= 1 and all(a.read_bytes() == data for a in aside), "journal lost"
        assert bool(aside) == ("damaged" in chats.notice), "kept aside without a word"


def readable_line(line: bytes) -> bool:
    try:
        record = json.loads(line)
        return (
            isinstance(record, dict)
            and isinstance(record.get("op"), str)
            and isinstance(record.get("args"), dict)
        )
    except (ValueError, RecursionError):
        return False


def journal_jobs(data: bytes) -> list[Job]:
    return [
        Job(json.loads(line)["op"], json.loads(line)["args"])
        for line in data.splitlines()
        if readable_line(line)
    ]
