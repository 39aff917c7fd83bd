"""app/ui/chat/list_model.py: the saved chats as the sidebar lists them, on a real ChatHistory
(the chats in memory, the file's search index read in the background)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.core.chats.history import ChatHistory
from app.core.chats.store import ChatStore
from app.ui.chat.list_model import ChatIdRole, ChatListModel, ChatRole


@pytest.fixture
def store(hearth_home):
    store = ChatHistory(ChatStore(hearth_home.chats_db))
    yield store
    store.close()


def test_chat_list_model_passes_the_model_tester(qtmodeltester, qtbot, store):
    for title in ("Dragons", "Knights", "Dragon eggs"):
        store.create_chat(title, model="smol.gguf")
    model = ChatListModel(store)
    model.reload()
    # The tester stays connected after check() and checks every change that follows (checking
    # the same model twice would connect it twice: pytest-qt then fails every reset).
    qtmodeltester.check(model, force_py=True)
    with qtbot.waitSignal(model.found):  # the file's matches, read in the background
        model.reload("dragon")
    assert model.rowCount() == 2
    assert model.setData(model.index(0), "Eggs of dragons")
    with qtbot.waitSignal(model.found):
        model.reload("nothing like this")
    assert model.rowCount() == 0
    model.reload("")
    assert model.rowCount() == 3


def test_rows_show_what_a_user_reads_and_rename_in_place(store):
    first = store.create_chat("Dragons", model="smol.gguf")
    store.create_chat("Knights")
    model = ChatListModel(store)
    model.reload()

    assert [model.index(r).data() for r in range(model.rowCount())] == ["Knights", "Dragons"]
    row = model.row_of(first.id)
    index = model.index(row)
    assert index.data(Qt.ToolTipRole) == "Dragons\nsmol.gguf"
    assert model.index(0).data(Qt.ToolTipRole) == "Knights\nno model yet"
    assert index.data(ChatIdRole) == first.id and index.data(ChatRole).title == "Dragons"
    assert not model.setData(index, "   ")  # a blank title is refused
    assert model.setData(index, "Red dragons")
    assert index.data() == "Red dragons" and store.get_chat(first.id).title == "Red dragons"
    model.reload("knight")
    assert model.rowCount() == 1 and model.row_of(first.id) == -1


def test_a_search_finds_words_of_messages_on_disk_not_yet_read(qtbot, hearth_home):
    with ChatStore(hearth_home.chats_db) as disk:
        for title, text in (("Travel", "The lighthouse keeper waved"), ("Cooking", "Bread")):
            disk.add_message(disk.create_chat(title).id, "user", text)
    with ChatHistory(ChatStore(hearth_home.chats_db)) as store:
        model = ChatListModel(store)
        model.reload("lighthouse")
        assert model.rowCount() == 0  # nothing in memory matches: no chat was opened yet
        with qtbot.waitSignal(model.found):
            pass
        assert [model.index(r).data() for r in range(model.rowCount())] == ["Travel"]
        model.reload("keep")  # a word prefix, as the search index matches it
        model.reload("bread")  # typed on: the older search's answer is dropped
        with qtbot.waitSignal(model.found):
            pass
        assert [model.index(r).data() for r in range(model.rowCount())] == ["Cooking"]
