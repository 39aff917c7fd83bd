"""A draft model chosen beside Drafting in Chat's load settings, through the real model host:
the zoo's tiny llama (random weights, the starter's tokenizer) drafts for the starter model;
one of another vocabulary is refused in one sentence and the chat says so."""

from app.bench.zoo import SIZES
from app.bench.zoo.write import write_model
from tests.ui.chat.test_adapter_in_chat import QUESTION, ask_anew, reload
from tests.ui.chat.test_page import open_window


def test_a_draft_model_answers_and_one_of_another_vocabulary_is_refused(
    qtbot, starter_home, starter_gguf, zoo_model_file, tmp_path
):
    other = write_model("llama", SIZES["tiny"], starter_gguf, tmp_path / "other.gguf", vocab=1000)
    win = open_window(qtbot, starter_home)
    try:
        page = win.chat_page
        page.panel.draft_model.set_path(str(zoo_model_file("llama")))
        reload(qtbot, win, win.session.loaded)
        assert "Paris" in ask_anew(qtbot, page), QUESTION
        page.panel.draft_model.set_path(str(other))
        message, cancelled = reload(qtbot, win, win.session.load_failed)
        assert not cancelled
        assert message.startswith(
            f"The draft model other.gguf cannot draft for {starter_gguf.name}: its vocabulary"
        )
    finally:
        win.shutdown()
