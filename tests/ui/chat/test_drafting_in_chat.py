"""Chat says what drafting's Auto chose when the model loaded, and why: the choice is this
computer's (a batch's cost measured at load), so the setting alone does not tell the user.
The real starter model through the real model host."""

import re

from app.core.config.limits import AUTO_DRAFT
from app.core.inference.draft_policy import PAYS
from tests.ui.chat.test_page import LOAD_MS, open_window

COST = re.compile(r"a batch of 9 tokens costs (\d+\.\d) one-token decodes here")


def test_the_status_line_says_what_auto_chose_and_its_tooltip_why(qtbot, starter_home):
    win = open_window(qtbot, starter_home)  # Drafting as a new user has it: auto
    try:
        page = win.chat_page
        assert page.panel.settings().draft_tokens == AUTO_DRAFT
        model = win.session.model
        chose = "on" if model.draft_tokens > 0 else "off"  # this machine's measure decided
        status, why = page.model_status.text(), page.model_status.toolTip()
        assert f" · drafting\u00a0{chose}\u00a0(auto)" in status  # wrapped as one, if at all
        assert why.startswith(f"Drafting (auto) is {chose}: a batch of 9 tokens costs ")
        cost = float(COST.search(why)[1])
        assert f"pays at {PAYS:g} or fewer" in why
        if chose == "on":
            assert cost <= PAYS
        elif "memory" not in why:  # off for its cost, not for drafting's logits
            assert cost >= PAYS

        page.panel.draft_tokens.setValue(0)  # pinned off: nothing measured, nothing to say
        with qtbot.waitSignal(win.session.loaded, timeout=LOAD_MS) as loaded:
            page.models.reload_model()
        assert loaded.args[0].draft_tokens == 0
        assert "drafting" not in page.model_status.text()
        assert page.model_status.toolTip() == ""
    finally:
        win.shutdown()
