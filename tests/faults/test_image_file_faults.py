"""Damaged image files given to Chat: attached, pasted or dropped.

Hypothesis draws a picture (PNG, JPEG, GIF, BMP) damaged by ``image_forge`` (cut, overwritten,
a forged size, noise, text under an image's name, emptied) and reads it as Chat's pool job
does (``image_data.from_file``): it is made a data URL of a picture no larger than Chat keeps,
or refused with one sentence naming the file; nothing else escapes. Then the real Chat page,
with the zoo's vision pair loaded, is given one file of each kind of damage, dropped on it as a
user drops one: each gets its own sentence in the banner, read off the GUI thread (the sentence
comes after the drop returns), none is kept, and a whole picture is still taken after.
Each draw and each dropped file counts as one injected fault in the faults summary line.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from PySide6.QtCore import QMimeData, QUrl

from app.ui.chat import image_data
from app.ui.chat.image_data import ImageRefused
from tests.faults.fuzzing import examples, fuzzed
from tests.faults.image_forge import JPEG, PNG, bomb_png, damaged, damaged_pictures
from tests.faults.tally import CrashDetected, Tally
from tests.ui.chat import test_images_in_chat as images_in_chat
from tests.ui.chat.test_images_in_chat import READ_MS, drop, open_vision_window

pytestmark = [
    pytest.mark.faults,
    # Qt's image readers warn about what they find wrong in a damaged picture (libjpeg's
    # "Corrupt JPEG data: ...", "Bogus Huffman table definition", "Maximum supported image
    # dimension is 65500 pixels", ...): expected here, and the sentence the user gets is the check.
    pytest.mark.qt_log_level_fail("CRITICAL"),
]

EXAMPLES = examples(60)
vision_home = images_in_chat.vision_home  # the fixture: a home whose model is the vision pair


def assert_taken_or_said(path: Path) -> None:
    """The file is a data URL Chat can keep, or one sentence naming it."""
    try:
        url = image_data.from_file(path)
    except ImageRefused as refused:
        said = str(refused)
        assert said.startswith(path.name) and said.endswith("."), said
        assert "\n" not in said and len(said) < 300, said
        return
    except Exception as exc:
        raise CrashDetected(f"{type(exc).__name__} escaped: {exc}") from exc
    kept = image_data.to_image(url)
    assert not kept.isNull(), "a data URL of no picture was kept"
    assert max(kept.width(), kept.height()) <= image_data.MAX_SIDE


def test_a_damaged_image_file_is_taken_whole_or_said_in_one_sentence(qapp, faults: Tally):
    @fuzzed(EXAMPLES)
    @given(picture=damaged_pictures)
    def one_case(picture: tuple[str, list[tuple]]) -> None:
        kind, steps = picture
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"photo.{kind}"
            path.write_bytes(damaged(kind, steps))
            with faults.inject(f"image file {kind} {steps}"):
                assert_taken_or_said(path)

    one_case()


def damaged_files(folder: Path) -> dict[str, Path]:
    """One file of each kind of damage, under an image's name."""
    files = {
        "empty": b"",
        "cut after its header": PNG[:40],
        "cut in half": PNG[: len(PNG) // 2],
        "a JPEG cut in half (Qt shows the rest grey)": JPEG[: len(JPEG) // 2],
        "text": b"Dear diary, " * 40,
        "a bomb of 100,000 x 100,000": bomb_png(100_000, 100_000, rows=4),
        "a bomb of 8,000 x 8,000": bomb_png(8_000, 8_000, rows=8),
    }
    folder.mkdir(exist_ok=True)
    paths = {}
    for n, (case, data) in enumerate(files.items()):
        paths[case] = folder / f"picture-{n}.png"
        paths[case].write_bytes(data)
    fifo = folder / "pipe.jpg"  # read as a file, it would hold the reading thread for ever
    os.mkfifo(fifo)
    paths["a FIFO"] = fifo
    (folder / "folder.gif").mkdir()
    paths["a folder"] = folder / "folder.gif"
    return paths


def test_damaged_images_dropped_on_chat_each_get_a_sentence(
    qtbot, vision_home, tmp_path, faults: Tally
):
    home, model, _ = vision_home
    win = open_vision_window(qtbot, home, model)
    try:
        page = win.chat_page
        said: list[str] = []
        page.images.refused.connect(said.append)
        for case, path in damaged_files(tmp_path).items():
            with faults.inject(f"image dropped on Chat: {case}"):
                said.clear()
                assert drop(page, path)
                assert said == [], "read on the GUI thread"  # the pool says it later
                qtbot.waitUntil(lambda: bool(said), timeout=READ_MS)
                (sentence,) = said
                assert sentence.startswith(path.name) and sentence.endswith("."), sentence
                assert win.banner_text.text() == sentence
                assert page.attachments.urls() == [] and page.images.reading == 0
        with faults.inject("a damaged image file pasted into the message box"):
            said.clear()
            text = damaged_files(tmp_path / "pasted")["text"]
            pasted = QMimeData()
            pasted.setUrls([QUrl.fromLocalFile(str(text))])
            page.input.insertFromMimeData(pasted)  # as Ctrl+V does with a copied file
            assert said == [] and page.input.toPlainText() == ""  # not written in as a path
            qtbot.waitUntil(lambda: bool(said), timeout=READ_MS)
            assert said[0].startswith(text.name) and page.attachments.urls() == []
        with faults.inject("a whole image dropped after the damaged ones"):
            whole = tmp_path / "whole.png"
            whole.write_bytes(PNG)
            with qtbot.waitSignal(page.attachments.changed, timeout=READ_MS):
                assert drop(page, whole)
            (url,) = page.attachments.urls()
            assert not image_data.to_image(url).isNull()
    finally:
        win.shutdown()
