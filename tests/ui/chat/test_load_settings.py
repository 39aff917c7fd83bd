"""Chat's load settings: drafting (and its draft model) and a LoRA adapter, shown and kept with
the model's settings."""

from PySide6.QtCore import Qt

from app.core.config.presets import ModelSettings
from app.ui.chat.draft_model_chooser import DraftModelChooser
from app.ui.chat.settings_panel import ChatSettingsPanel


def test_drafting_is_auto_until_chosen_and_is_kept_with_the_models_settings(qtbot):
    """Auto (-1): on only where this computer's batches pay, measured at load."""
    panel = ChatSettingsPanel()
    qtbot.addWidget(panel)
    panel.show_settings(ModelSettings(), "")
    assert panel.draft_tokens.text() == "auto"
    assert panel.settings().draft_tokens == -1
    panel.draft_tokens.stepUp()
    assert (panel.draft_tokens.text(), panel.settings().draft_tokens) == ("off", 0)
    panel.draft_tokens.lineEdit().selectAll()
    qtbot.keyClicks(panel.draft_tokens, "auto")
    panel.draft_tokens.interpretText()
    assert panel.settings().draft_tokens == -1
    assert "400 MB at 2048 tokens" in panel.draft_tokens.toolTip()  # drafting's logits
    panel.draft_tokens.setValue(8)
    assert panel.settings().draft_tokens == 8
    panel.show_settings(ModelSettings(draft_tokens=3), "")
    assert panel.draft_tokens.value() == 3


def test_a_draft_model_is_chosen_beside_drafting_and_kept_with_the_models_settings(qtbot):
    panel = ChatSettingsPanel()
    qtbot.addWidget(panel)
    panel.show_settings(ModelSettings(), "")
    assert (panel.draft_model.text(), panel.settings().draft_model_path) == ("none", "")
    panel.show_settings(ModelSettings(draft_model_path="/models/small.gguf"), "")
    assert panel.draft_model.text() == "small.gguf"
    assert panel.settings().draft_model_path == "/models/small.gguf"
    none = next(a for a in panel.draft_model.menu().actions() if a.text() == "None")
    none.trigger()
    assert (panel.draft_model.text(), panel.settings().draft_model_path) == ("none", "")
    stored = ModelSettings(draft_model_path="/models/small.gguf").to_json()
    assert ModelSettings.from_json(stored).draft_model_path == "/models/small.gguf"


def test_the_draft_model_chooser_takes_a_file_and_keeps_its_choice_when_cancelled(qtbot):
    answers = ["/models/small.gguf", ""]  # the file picked, then a cancelled dialog
    chooser = DraftModelChooser(pick_file=lambda start: answers.pop(0))
    qtbot.addWidget(chooser)
    other = next(a for a in chooser.menu().actions() if a.text() == "Choose a file...")
    with qtbot.waitSignal(chooser.chosen) as chosen:
        other.trigger()
    assert chosen.args == ["/models/small.gguf"] and chooser.text() == "small.gguf"
    other.trigger()
    assert chooser.path == "/models/small.gguf"


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


def test_any_adapter_file_can_be_chosen_and_a_cancelled_choice_changes_nothing(qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    panel = ChatSettingsPanel()
    qtbot.addWidget(panel)
    panel.show_settings(ModelSettings(lora_path="/models/kept.gguf"), "")
    chooser = panel.adapter_button
    chooser.fill()
    other = next(a for a in chooser.menu().actions() if a.text() == "Choose a file...")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: ("", ""))
    other.trigger()
    assert panel.settings().lora_path == "/models/kept.gguf"
    picked = ("/elsewhere/style-lora.gguf", "GGUF files (*.gguf)")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: picked)
    other.trigger()
    assert (chooser.text(), panel.settings().lora_path) == (
        "style-lora.gguf",
        "/elsewhere/style-lora.gguf",
    )
