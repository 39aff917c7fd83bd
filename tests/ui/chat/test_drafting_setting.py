"""Chat's load settings: drafting is shown, off by default, and goes into the model's settings."""

from app.core.config.presets import ModelSettings
from app.ui.chat.settings_panel import ChatSettingsPanel


def test_drafting_is_off_until_chosen_and_is_kept_with_the_models_settings(qtbot):
    panel = ChatSettingsPanel()
    qtbot.addWidget(panel)
    panel.show_settings(ModelSettings(), "")
    assert panel.draft_tokens.text() == "off"
    assert panel.settings().draft_tokens == 0
    panel.draft_tokens.setValue(8)
    assert panel.settings().draft_tokens == 8
    panel.show_settings(ModelSettings(draft_tokens=3), "")
    assert panel.draft_tokens.value() == 3
