"""Images in Chat, driven as a user drives it: attach, paste or drop an image, send it with the
text, see it in the conversation and again after a restart.

The vision model is the zoo's generated pair (``app.bench.zoo.vision``: a random-weight text
model and a real ``clip`` projector that llama.cpp loads), as no vision model small enough for
CI is shipped on PyPI. Its answers are meaningless words: these tests check that the image
reached the model (its projector's tokens in the prompt), that an answer streamed, and what the
user sees and keeps, never what the answer says.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QPainter,
    QTextDocument,
)
from PySide6.QtWidgets import QApplication, QFileDialog, QToolButton

from app.bench.zoo.vision import IMAGE_TOKENS, sample_png, vision_pair
from app.core.config.sampling import Sampling
from app.core.config.settings import Settings
from app.ui.chat import image_data
from app.ui.chat.composer import ATTACH_TIP, TEXT_ONLY
from app.ui.main_window import MainWindow
from tests.support.chat_ui import ask
from tests.support.screenshots import screenshot
from tests.ui.chat.test_page import LOAD_MS, open_window

READ_MS = 10_000  # an image made ready on the pool


@pytest.fixture
def vision_home(hearth_home, starter_gguf):
    """A Hearth home whose one model is the zoo's vision model, its projector beside it."""
    from tests.conftest import cache_root

    pair = vision_pair(starter_gguf, cache_root() / "zoo")
    folder = hearth_home.models_dir / "zoo-vision"
    folder.mkdir(parents=True)
    for path in (pair.model, pair.mmproj):  # copies (17 MB): a hard link could write through
        shutil.copyfile(path, folder / path.name)
    return hearth_home, folder / pair.model.name, pair.mmproj.name


def open_vision_window(qtbot, home, model: Path) -> MainWindow:
    sampling = Sampling(max_tokens=8, temperature=0.0, seed=1)
    win = MainWindow(home, Settings(sampling=sampling, last_model=str(model)))
    qtbot.addWidget(win)
    win.chat_page.confirm = lambda _parent, _question: True
    with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS):
        win.show()
    return win


def drop(widget, path: Path) -> bool:
    """Drag ``path`` over ``widget`` and let go; whether it took the drag."""
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    where = QPointF(widget.width() / 2, widget.height() / 2)
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(where.toPoint(), Qt.DropAction.CopyAction, data, buttons, keys)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(widget, QDropEvent(where, Qt.DropAction.CopyAction, data, buttons, keys))
    return True


def paste(page, image: QImage) -> None:
    QGuiApplication.clipboard().setImage(image)
    page.input.paste()


def picture(width: int, height: int) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)
    return image


def shown_images(page) -> list[QImage]:
    """The thumbnails the conversation shows, in order."""
    document = page.transcript.document()
    found = []
    for message in page.store.messages(page.chat_id):
        for n in range(len(message.images)):
            resource = document.resource(
                QTextDocument.ResourceType.ImageResource, QUrl(f"hearth-image:{message.id}/{n}")
            )
            found.append(QImage(resource))
    return found


def test_an_image_is_sent_answered_and_shown_again_after_a_restart(
    qtbot, vision_home, tmp_path, monkeypatch
):
    home, model, projector = vision_home
    photo = tmp_path / "photo.png"
    photo.write_bytes(sample_png(40, 30))
    win = open_vision_window(qtbot, home, model)
    page = win.chat_page
    assert f"sees images ({projector})" in page.model_status.text()
    button = page.images.attach_button
    assert button.isEnabled() and button.toolTip() == ATTACH_TIP
    # The same question without an image: the prompt's size to compare with.
    _, plain = ask(qtbot, page, "What is in this picture?")

    page.new_chat()
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *_a, **_k: ([str(photo)], ""))
    with qtbot.waitSignal(page.attachments.changed, timeout=READ_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert len(page.attachments.urls()) == 1 and page.attachments.isVisibleTo(page)
    answer, stats = ask(qtbot, page, "What is in this picture?")
    # The image reached the model: its projector's tokens were added to the same prompt.
    assert stats.prompt_tokens - plain.prompt_tokens == IMAGE_TOKENS
    assert stats.tokens > 0 and answer  # streamed; random weights, so its words mean nothing
    assert page.attachments.urls() == [] and not page.attachments.isVisibleTo(page)
    question = page.store.messages(page.chat_id)[0]
    assert question.content == "What is in this picture?" and len(question.images) == 1
    sent = image_data.to_image(question.images[0])
    assert (sent.width(), sent.height()) == (40, 30)
    (thumb,) = shown_images(page)
    assert (thumb.width(), thumb.height()) == (160, 120)  # 40x30 shown at the thumbnail size
    chat_id, shown = page.chat_id, page.transcript.toPlainText()
    win.close()  # as the user quits; the settings file remembers the open chat

    second = MainWindow(home, Settings.load(home.settings_file))
    qtbot.addWidget(second)
    try:
        again = second.chat_page
        assert again.chat_id == chat_id and again.transcript.toPlainText() == shown
        assert again.store.messages(chat_id)[0].images == question.images
        (thumb,) = shown_images(again)
        assert (thumb.width(), thumb.height()) == (160, 120)
    finally:
        second.shutdown()


def test_images_come_pasted_or_dropped_and_can_be_removed(qtbot, vision_home, tmp_path):
    home, model, _ = vision_home
    dropped = tmp_path / "dropped.png"
    dropped.write_bytes(sample_png(20, 20))
    win = open_vision_window(qtbot, home, model)
    try:
        page = win.chat_page
        page.input.setPlainText("Quick")
        with qtbot.waitSignal(page.attachments.changed, timeout=READ_MS):
            paste(page, picture(50, 40))
            page.send()  # before the pasted picture is ready: nothing is sent without it
            assert win.banner_text.text() == (
                "The image is still being prepared: send again in a moment."
            )
        assert page.store.list_chats() == [] and page.input.toPlainText() == "Quick"
        with qtbot.waitSignal(page.attachments.changed, timeout=READ_MS):
            assert drop(page.transcript.viewport(), dropped)  # on the conversation
        with qtbot.waitSignal(page.attachments.changed, timeout=READ_MS):
            assert drop(page.input.viewport(), dropped)  # on the message box
        assert page.input.toPlainText() == "Quick"  # not written in as a path
        sizes = [(i.width(), i.height()) for i in map(image_data.to_image, page.attachments.urls())]
        assert sizes == [(50, 40), (20, 20), (20, 20)]
        removes = page.attachments.findChildren(QToolButton)
        qtbot.mouseClick(removes[0], Qt.MouseButton.LeftButton)  # the pasted one
        sizes = [(i.width(), i.height()) for i in map(image_data.to_image, page.attachments.urls())]
        assert sizes == [(20, 20), (20, 20)]
    finally:
        win.shutdown()


def test_a_damaged_or_huge_image_file_gets_one_sentence_and_a_big_one_is_made_small(
    qtbot, vision_home, tmp_path
):
    home, model, _ = vision_home
    damaged = tmp_path / "holiday.png"
    damaged.write_bytes(sample_png()[:40])  # cut off after its header
    huge = tmp_path / "scan.jpg"
    with open(huge, "wb") as file:  # larger than taken (sparse: nothing is written)
        file.truncate(image_data.MAX_FILE_BYTES + 1)
    big = tmp_path / "big.png"
    assert picture(4000, 1000).save(str(big))
    win = open_vision_window(qtbot, home, model)
    try:
        page = win.chat_page
        with qtbot.waitSignal(page.images.refused, timeout=READ_MS) as said:
            page.images.offer([damaged])
        assert said.args == [
            "holiday.png is a PNG picture cut short or damaged: save or download it again."
        ]
        assert win.banner_text.text() == said.args[0]
        with qtbot.waitSignal(page.images.refused, timeout=READ_MS) as said:
            page.images.offer([huge])
        assert said.args == ["scan.jpg is 50 MB: Hearth takes images up to 50 MB."]
        assert page.attachments.urls() == []
        with qtbot.waitSignal(page.attachments.changed, timeout=READ_MS):
            page.images.offer([big])
        (url,) = page.attachments.urls()
        kept = image_data.to_image(url)
        assert (kept.width(), kept.height()) == (image_data.MAX_SIDE, image_data.MAX_SIDE // 4)
        assert len(base64.b64decode(url.split(",", 1)[1])) <= image_data.MAX_PNG_BYTES
    finally:
        win.shutdown()


def test_a_text_only_model_refuses_images_and_models_dropped_still_join(
    qtbot, starter_home, starter_gguf, tmp_path
):
    photo = tmp_path / "photo.png"
    photo.write_bytes(sample_png())
    win = open_window(qtbot, starter_home)
    try:
        page = win.chat_page
        button = page.images.attach_button
        assert not button.isEnabled() and button.toolTip() == TEXT_ONLY
        assert "sees images" not in page.model_status.text()
        with qtbot.waitSignal(page.images.refused) as said:
            paste(page, picture(30, 30))
        assert said.args == [TEXT_ONLY] and win.banner_text.text() == TEXT_ONLY
        with qtbot.waitSignal(page.images.refused):
            assert drop(page.transcript.viewport(), photo)
        assert page.attachments.urls() == [] and page.input.toPlainText() == ""
        # A model file dropped on the chat still joins My Models.
        model = tmp_path / "Another-Q4_1.gguf"
        os.link(starter_gguf, model)
        with qtbot.waitSignal(win.model_drop.added, timeout=30_000):
            assert drop(page.transcript.viewport(), model)
    finally:
        win.shutdown()


def landscape(width: int = 320, height: int = 200) -> QImage:
    """A picture a person recognises in a screenshot: sky, sun, hills."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("#8ec5ff"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#ffd24a"))
    painter.drawEllipse(QPointF(width * 0.75, height * 0.3), height * 0.12, height * 0.12)
    painter.setBrush(QColor("#4f9d4a"))
    painter.drawEllipse(QPointF(width * 0.3, height * 1.1), width * 0.6, height * 0.55)
    painter.setBrush(QColor("#3b7f3a"))
    painter.drawEllipse(QPointF(width * 0.85, height * 1.15), width * 0.45, height * 0.5)
    painter.end()
    return image


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_images_in_a_1024_window(qtbot, vision_home, keeper, theme):
    home, model, _ = vision_home
    win = open_vision_window(qtbot, home, model)
    try:
        win.set_theme(theme)
        win.resize(1024, 640)
        page = win.chat_page
        with qtbot.waitSignal(page.attachments.changed, timeout=READ_MS):
            paste(page, landscape())
        ask(qtbot, page, "What is in this picture?")  # its words: random weights, not judged
        with qtbot.waitSignal(page.attachments.changed, timeout=READ_MS):
            paste(page, landscape(200, 200))  # the next message's, waiting above the box
        page.input.setPlainText("And this one?")
        qtbot.waitUntil(lambda: page.attachments.isVisible())
        assert win.width() == 1024  # the thumbnails do not widen the window
        screenshot(win, "chat_images.png" if theme == "light" else "chat_images_dark.png")
    finally:
        win.shutdown()


def test_a_damaged_projector_is_said_and_the_model_loads_for_text(qtbot, vision_home):
    home, model, projector = vision_home
    beside = model.parent / projector
    beside.write_bytes(beside.read_bytes()[:4096])  # cut off: its tensors are missing
    sampling = Sampling(max_tokens=8, temperature=0.0, seed=1)
    win = MainWindow(home, Settings(sampling=sampling, last_model=str(model)))
    qtbot.addWidget(win)
    try:
        with qtbot.waitSignal(win.session.load_failed, timeout=LOAD_MS) as failed:
            win.show()
        assert projector in failed.args[0]
        with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS) as loaded:
            pass
        assert not loaded.args[0].has_vision
        page = win.chat_page
        assert win.banner_text.text().endswith(f"{model.name} is loaded without it: text only.")
        assert "sees images" not in page.model_status.text()
        assert not page.images.attach_button.isEnabled()
        ask(qtbot, page, "Hello")  # it answers (random words, not judged)
    finally:
        win.shutdown()
