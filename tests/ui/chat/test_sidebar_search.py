"""After a search hides the open chat, Rename, Delete and Export act on that chat, and with no
chat at all they say why they do nothing (issue 19: they silently did nothing)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QApplication, QFileDialog, QLineEdit

from app.core.config.settings import Settings
from app.ui.main_window import MainWindow


@pytest.fixture
def page(qtbot, hearth_home):
    win = MainWindow(hearth_home, Settings())
    qtbot.addWidget(win)
    win.show()
    page = win.chat_page
    page.confirm = lambda _parent, _question: True  # "Delete the chat ...?" answered Yes
    yield page
    win.shutdown()


def shown_titles(page) -> list[str]:
    return [page.chats.index(r).data() for r in range(page.chats.rowCount())]


def search(qtbot, page, text: str) -> None:
    with qtbot.waitSignal(page.chats.found, timeout=10_000):  # the file's matches too
        qtbot.keyClicks(page.sidebar.search, text)


def save_as(path) -> None:
    """Answer the Export dialog as a user does: type the file name and press Save."""
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, QFileDialog)
    dialog.selectFile(str(path))
    dialog.accept()


def test_buttons_act_on_the_open_chat_hidden_by_a_search(page, qtbot, tmp_path):
    dragons = page.store.create_chat("Dragons")
    page.store.add_message(dragons.id, "user", "Tell me about dragons.")
    page.store.create_chat("Knights")
    page.chats.reload()
    page.open_chat(dragons.id)
    sidebar = page.sidebar
    search(qtbot, page, "knight")
    assert shown_titles(page) == ["Knights"] and sidebar.current_id() == 0

    out = tmp_path / "dragons.md"
    QTimer.singleShot(0, lambda: save_as(out))
    qtbot.mouseClick(button(sidebar, "Export"), Qt.LeftButton)
    qtbot.waitUntil(out.exists)  # written on the pool
    assert "Tell me about dragons." in out.read_text(encoding="utf-8")

    qtbot.mouseClick(button(sidebar, "Rename"), Qt.LeftButton)
    assert sidebar.search.text() == ""  # the search is cleared to show the chat renamed
    assert sidebar.current_id() == dragons.id
    assert sidebar.view.state() == QAbstractItemView.State.EditingState
    editor = sidebar.view.findChild(QLineEdit)  # the title, open for editing in the list
    editor.selectAll()
    qtbot.keyClicks(editor, "Red dragons")
    qtbot.keyClick(editor, Qt.Key_Return)
    qtbot.waitUntil(lambda: page.store.get_chat(dragons.id).title == "Red dragons")  # queued
    assert shown_titles(page) == ["Knights", "Red dragons"]

    search(qtbot, page, "knight")
    qtbot.mouseClick(button(sidebar, "Delete"), Qt.LeftButton)
    assert page.chat_id == 0
    assert [c.title for c in page.store.list_chats("")] == ["Knights"]
    assert not sidebar.hint.isVisible()


def test_with_no_chat_the_buttons_say_why_they_do_nothing(page, qtbot):
    sidebar = page.sidebar
    assert page.chat_id == 0 and page.chats.rowCount() == 0
    for verb in ("Export", "Rename", "Delete"):
        qtbot.mouseClick(button(sidebar, verb), Qt.LeftButton)
        assert sidebar.hint.isVisible()
        assert sidebar.hint.text() == f"Open or choose a chat to {verb.lower()} it."


def button(sidebar, label: str):
    from PySide6.QtWidgets import QPushButton

    return next(b for b in sidebar.findChildren(QPushButton) if b.text() == label)
