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

import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.chats.store import ChatStore
from tests.faults.history_forge import PAGE, make_history, readable_messages, stored_messages
from tests.faults.test_store_faults import foreign_wal

pytestmark = pytest.mark.faults

FUZZ_EXAMPLES = int(os.environ.get("HEARTH_FUZZ_EXAMPLES", "25"))


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

    @settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=FUZZ_EXAMPLES,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(steps=damages, with_foreign_wal=st.booleans())
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
