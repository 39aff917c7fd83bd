"""A message's stored images (``messages.images_json``, schema 2) damaged on disk.

Hypothesis draws what another program, a bad disk or a hand edit may leave in the column of a
real SQLite chat file: JSON of any shape, lists of data URLs whose pictures are damaged
(``image_forge``), links, thousands of images, nesting past Python's recursion, text that is
not JSON, bytes that are not UTF-8, numbers, NULL. The value is written straight into the file
with ``sqlite3``; then the history opens as the studio opens it (``ChatHistory`` over
``ChatStore``): the chat opens, every message's text is there word for word, and what is kept
of the images is a few data URLs of pictures, nothing else. The real Chat page then opens a
file holding one message of each kind of damage and shows every message's text, each damaged
picture said in place. Each draw counts as one injected fault in the faults summary line.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.chats.export import to_json
from app.core.chats.history import ChatHistory
from app.core.chats.store import MAX_IMAGES, ChatStore
from tests.faults.fuzzing import examples, fuzzed
from tests.faults.image_forge import PNG, bomb_png, damaged, damaged_pictures
from tests.faults.tally import CrashDetected, Tally

pytestmark = [
    pytest.mark.faults,
    # Qt's image readers warn about what they find wrong in a damaged picture (libjpeg's
    # "Corrupt JPEG data: ...", "Bogus Huffman table definition", "Maximum supported image
    # dimension is 65500 pixels", ...): expected here, and the sentence the user gets is the check.
    pytest.mark.qt_log_level_fail("CRITICAL"),
]

EXAMPLES = examples(40)
GOOD = "data:image/png;base64," + base64.b64encode(PNG).decode()
TEXTS = ["What is in this picture?", "A cat on a mat.", "And this one?"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
data_urls = st.one_of(
    st.just(GOOD),
    st.builds(
        lambda picture, mime: f"data:{mime};base64," + base64.b64encode(damaged(*picture)).decode(),
        damaged_pictures,
        st.sampled_from(["image/png", "image/jpeg", "text/plain", "image/svg+xml"]),
    ),
    st.sampled_from(
        [
            "https://example.com/cat.png",
            "file:///etc/passwd",
            "data:image/png;base64,@@not base64@@",
            "data:image/png;base64,\ud800",
            "data:image/png;base64," + base64.b64encode(bomb_png(8_000, 8_000, rows=4)).decode(),
            "",
        ]
    ),
)
stored_values = st.one_of(
    st.lists(data_urls | json_values, max_size=6).map(json.dumps),
    st.integers(1, 3000).map(lambda n: json.dumps([GOOD] * n)),  # thousands of images
    st.integers(1, 100_000).map(lambda n: "[" * n + "]" * n),  # past Python's recursion
    json_values.map(json.dumps),
    st.text(max_size=40),  # not JSON
    st.binary(max_size=40),  # stored as a BLOB, not UTF-8
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),  # SQLite stores a NaN as NULL: no file can hold one here
)  # NULL is refused by the column's NOT NULL


def history_with_damaged_images(path: Path, values: list[object]) -> list[int]:
    """A real history of one chat, a question with a picture and an answer per value; each
    question's ``images_json`` then overwritten with its value, straight in the file."""
    ids = []
    with ChatHistory(ChatStore(path)) as history:
        chat = history.create_chat()
        for _ in values:
            ids.append(history.add_message(chat.id, "user", TEXTS[0], images=[GOOD]).id)
            history.add_message(chat.id, "assistant", TEXTS[1])
    with closing(sqlite3.connect(path)) as conn, conn:
        for message_id, value in zip(ids, values, strict=True):
            conn.execute("UPDATE messages SET images_json = ? WHERE id = ?", (value, message_id))
    return ids


def assert_chat_opens_whole(path: Path, count: int) -> None:
    try:
        with ChatHistory(ChatStore(path)) as history:
            (chat,) = history.store.list_chats()
            messages = history.messages(chat.id)
            export = to_json(chat, messages)
    except RecursionError as exc:
        raise CrashDetected(f"opening the chat raised {exc!r}") from exc
    assert [m.content for m in messages] == [TEXTS[0], TEXTS[1]] * count, "text lost"
    for message in messages:
        assert len(message.images) <= MAX_IMAGES
        assert all(isinstance(i, str) and i.startswith("data:image/") for i in message.images)
    assert json.loads(export)  # the chat still exports


def test_a_damaged_images_column_leaves_the_chat_opening_with_its_text(faults: Tally):
    @fuzzed(EXAMPLES)
    @given(value=stored_values)
    def one_case(value: object) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "chats.sqlite3"
            history_with_damaged_images(path, [value])
            with faults.inject(f"images_json = {str(value)[:60]!r} ({type(value).__name__})"):
                assert_chat_opens_whole(path, 1)

    one_case()


def test_chat_opens_a_chat_whose_images_are_damaged_and_shows_its_text(
    qtbot, starter_home, faults: Tally
):
    from tests.ui.chat.test_page import open_window

    cut = "data:image/png;base64," + base64.b64encode(PNG[: len(PNG) // 2]).decode()
    bomb = "data:image/png;base64," + base64.b64encode(bomb_png(8_000, 8_000, rows=4)).decode()
    values: dict[str, object] = {
        "not JSON": "[data:image/png",
        "nested past Python's recursion": "[" * 100_000 + "]" * 100_000,
        "3,000 images": json.dumps([GOOD] * 3000),
        "a picture cut in half, a bomb, a link": json.dumps([cut, bomb, "https://x/y.png"]),
        "bytes that are not UTF-8": b"\xff\xfe[\x00",
        "a number": 7,
    }
    path = starter_home.chats_db
    path.parent.mkdir(parents=True, exist_ok=True)
    history_with_damaged_images(path, list(values.values()))
    with faults.inject(f"Chat opening a chat whose images are damaged: {', '.join(values)}"):
        win = open_window(qtbot, starter_home)
        try:
            page = win.chat_page
            (chat,) = page.store.list_chats()
            page.open_chat(chat.id)  # its messages are read on the pool, then shown
            qtbot.waitUntil(lambda: page.opening == 0, timeout=10_000)
            shown = page.transcript.toPlainText()
            assert page.chat_id == chat.id
            assert shown.count(TEXTS[0]) == len(values) and shown.count(TEXTS[1]) == len(values)
            # The cut picture and the bomb are kept as data URLs, each said where it would be
            assert shown.count("[an image that cannot be shown]") == 2
            kept = sum(len(m.images) for m in page.store.messages(chat.id))
            assert kept == MAX_IMAGES + 2  # the first 8 of 3,000, the cut one and the bomb
        finally:
            win.shutdown()
