"""Chat's load settings: drafting and a LoRA adapter, shown and kept with the model's settings."""

from PySide6.QtCore import Qt

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


def test_a_lora_adapter_and_its_strength_are_kept_with_the_models_settings(qtbot):
    panel = ChatSettingsPanel()
    qtbot.addWidget(panel)
    panel.show_settings(ModelSettings(), "")
    assert panel.adapter_button.text() == "none"
    assert not panel.adapter_strength.isEnabled()
    assert (panel.settings().lora_path, panel.settings().lora_scale) == ("", 1.0)
    panel.set_adapter("/models/SmolLM2-135M-lora.gguf")
    panel.adapter_strength.setValue(0.5)
    assert panel.adapter_button.text() == "SmolLM2-135M-lora.gguf"
    assert panel.adapter_strength.isEnabled()
    chosen = panel.settings()
    assert (chosen.lora_path, chosen.lora_scale) == ("/models/SmolLM2-135M-lora.gguf", 0.5)
    panel.show_settings(ModelSettings(), "")  # another model: its own (none)
    assert panel.settings().lora_path == ""


def test_the_strength_slider_moves_by_keyboard_in_steps_of_0_05_with_its_value_beside_it(qtbot):
    panel = ChatSettingsPanel()
    qtbot.addWidget(panel)
    panel.show_settings(ModelSettings(lora_path="/models/a.gguf", lora_scale=0.5), "")
    strength = panel.adapter_strength
    assert strength.shown.text() == "0.50"
    qtbot.keyClick(strength.slider, Qt.Key.Key_Right)
    assert (strength.shown.text(), panel.settings().lora_scale) == ("0.55", 0.55)
    qtbot.keyClick(strength.slider, Qt.Key.Key_PageUp)
    assert panel.settings().lora_scale == 0.8
    qtbot.keyClick(strength.slider, Qt.Key.Key_End)
    assert (strength.shown.text(), panel.settings().lora_scale) == ("2.00", 2.0)
    qtbot.keyClick(strength.slider, Qt.Key.Key_Home)
    assert (strength.shown.text(), panel.settings().lora_scale) == ("0.00", 0.0)
    assert strength.slider.focusPolicy() == Qt.FocusPolicy.StrongFocus
    panel.show_settings(ModelSettings(lora_path="/models/a.gguf", lora_scale=1.37), "")
    assert strength.shown.text() == "1.35"  # the nearest step
