"""A .gguf file dropped on the window joins My Models; a file that is no model gets one plain
sentence (issue 19). Real files: the starter model, a text file, a truncated GGUF."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.core.config.settings import Settings
from app.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, hearth_home):
    win = MainWindow(hearth_home, Settings.load(hearth_home.settings_file))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(win.library.modelReset, timeout=10_000):  # the first scan
        pass
    yield win
    win.shutdown()


def drop(widget, path: Path) -> bool:
    """Drag ``path`` over ``widget`` and let go; whether it took the drag."""
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    where = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(
        where.toPoint(), Qt.CopyAction, data, Qt.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(
        widget,
        QDropEvent(where, Qt.CopyAction, data, Qt.LeftButton, Qt.KeyboardModifier.NoModifier),
    )
    return True


def test_a_dropped_gguf_is_listed_and_shown_in_my_models(window, qtbot, starter_gguf, tmp_path):
    folder = tmp_path / "Downloads"
    folder.mkdir()
    model = folder / "SmolLM2-135M-Instruct-Q4_1.gguf"
    os.link(starter_gguf, model)
    (folder / "notes.txt").write_text("not a model")
    assert window.library.rowCount() == 0
    with qtbot.waitSignal(window.model_drop.added, timeout=30_000) as added:
        assert drop(window, model)
    assert added.args == [str(model.resolve())]
    assert window.pages.currentWidget() is window.models_page
    assert [m.path.resolve() for m in window.models_page.selected_models()] == [model.resolve()]
    assert window.statusBar().currentMessage() == f"{model.name} is in My Models."
    assert not window.banner.isVisible()
    qtbot.waitUntil(  # saved on the pool
        lambda: Settings.load(window.paths.settings_file).model_folders == [str(folder.resolve())]
    )


def test_a_file_that_is_no_model_gets_one_plain_sentence(window, qtbot, tmp_path, starter_gguf):
    text = tmp_path / "notes.txt"
    text.write_text("shopping list")
    with qtbot.waitSignal(window.model_drop.refused, timeout=10_000):
        assert drop(window, text)
    assert window.banner.isVisible()
    assert window.banner_text.text() == (
        "notes.txt is not a model file: Hearth adds GGUF models, files ending in .gguf."
    )
    broken = tmp_path / "Broken-Q4_K_M.gguf"
    with open(starter_gguf, "rb") as source:
        broken.write_bytes(source.read(1_000_000))
    with qtbot.waitSignal(window.model_drop.refused, timeout=30_000):
        assert drop(window, broken)
    assert "Broken-Q4_K_M.gguf" in window.banner_text.text()
    assert "damaged or not a model file" in window.banner_text.text()
    assert window.library.rowCount() == 0 and window.settings.model_folders == []


def test_a_drag_without_files_is_not_taken(window):
    data = QMimeData()
    data.setText("some words")
    enter = QDragEnterEvent(
        window.rect().center(), Qt.CopyAction, data, Qt.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_a_model_dropped_on_the_message_box_is_added_not_typed(
    window, qtbot, starter_gguf, tmp_path
):
    model = tmp_path / "SmolLM2-135M-Instruct-Q4_1.gguf"
    os.link(starter_gguf, model)
    box = window.chat_page.input
    with qtbot.waitSignal(window.model_drop.added, timeout=30_000):
        assert drop(box.viewport(), model)
    assert box.toPlainText() == ""
    assert window.pages.currentWidget() is window.models_page
