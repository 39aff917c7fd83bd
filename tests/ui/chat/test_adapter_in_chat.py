"""A LoRA adapter and drafting chosen in Chat's load settings, through the real model host.

The adapter has random low-rank weights (tests/support/lora.py): its answer's words are not
judged, only that it differs from the model's own and that strength 0 gives the model's own.
"""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea

from tests.support.chat_ui import ask
from tests.support.lora import make_lora
from tests.support.screenshots import screenshot
from tests.ui.chat.test_page import LOAD_MS, open_window

QUESTION = "Name the capital city of France."


def ask_anew(qtbot, page) -> str:
    """The answer to QUESTION in a new chat (the same conversation each time)."""
    page.new_chat()
    return ask(qtbot, page, QUESTION)[0]


def reload(qtbot, win, signal):
    with qtbot.waitSignal(signal, timeout=LOAD_MS) as done:
        win.chat_page.models.reload_model()
    return done.args


def test_an_adapter_changes_the_answer_and_strength_0_is_the_models_own(
    qtbot, starter_home, starter_gguf, tmp_path
):
    win = open_window(qtbot, starter_home)
    try:
        page = win.chat_page
        # Greedy answers compared across loads: drafting pinned off, as Auto turns it on only
        # where batches are cheap, and there batched logits can flip a near-tie.
        page.panel.draft_tokens.setValue(0)
        (plain,) = reload(qtbot, win, win.session.loaded)
        assert plain.draft_tokens == 0 and "drafting" not in page.model_status.text()
        own = ask_anew(qtbot, page)
        page.panel.set_adapter(str(make_lora(starter_gguf, tmp_path / "adapter.gguf")))
        reload(qtbot, win, win.session.loaded)
        adapted = ask_anew(qtbot, page)
        assert adapted != own
        qtbot.keyClick(page.panel.adapter_strength.slider, Qt.Key.Key_Home)  # strength 0
        assert page.panel.adapter_strength.shown.text() == "0.00"
        reload(qtbot, win, win.session.loaded)
        assert ask_anew(qtbot, page) == own
        page.panel.set_adapter(str(make_lora(starter_gguf, tmp_path / "w.gguf", width=640)))
        message, cancelled = reload(qtbot, win, win.session.load_failed)
        assert not cancelled
        assert message.startswith(
            f"The adapter w.gguf does not fit {starter_gguf.name}: it was made for another model"
        )
        page.panel.set_adapter("")
        page.panel.draft_tokens.setValue(8)
        reload(qtbot, win, win.session.loaded)
        assert "Paris" in ask_anew(qtbot, page)
    finally:
        win.shutdown()


def test_the_lora_rows_show_in_a_1024_by_640_window_in_both_themes(
    qtbot, starter_home, starter_gguf, tmp_path, keeper
):
    win = open_window(qtbot, starter_home)
    try:
        win.resize(1024, 640)
        page = win.chat_page
        page.panel.set_adapter(str(make_lora(starter_gguf, tmp_path / "style-lora.gguf")))
        page.panel.adapter_strength.setValue(0.75)
        page.settings_button.setChecked(True)
        strength = page.panel.adapter_strength
        scroll = page.panel.findChild(QScrollArea)
        for theme in ("light", "dark"):
            keeper.apply(theme)
            scroll.ensureWidgetVisible(strength)
            qtbot.wait(10)  # let the layout settle
            assert win.size().toTuple() == (1024, 640)
            shown = scroll.viewport().rect()
            for widget in (page.panel.adapter_button, strength.slider, strength.shown):
                corner = widget.mapTo(scroll.viewport(), widget.rect().bottomRight())
                assert shown.contains(corner), (theme, widget)
            assert strength.shown.text() == "0.75"
            screenshot(win, f"chat_lora_1024_{theme}.png")
    finally:
        win.shutdown()
