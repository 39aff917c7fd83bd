"""The chat settings panel: system prompt, sampling (with presets) and load settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.config.presets import KV_TYPES, ModelSettings
from app.core.config.sampling import PRESETS, SPECS, Sampling, Spec
from app.ui.chat.adapter_chooser import AdapterChooser
from app.ui.chat.draft_model_chooser import DraftModelChooser
from app.ui.chat.drafting_box import DraftingBox
from app.ui.chat.strength_slider import StrengthSlider

if TYPE_CHECKING:
    from app.core.library.catalog import LocalModel


class ChatSettingsPanel(QWidget):
    changed = Signal()  # sampling or system prompt changed (applies to the next answer)
    reload_requested = Signal()  # load settings changed: reload the model
    save_default_requested = Signal()

    def __init__(self, adapters: Callable[[], list[LocalModel]] | None = None) -> None:
        """``adapters``: the LoRA adapters in the library (its scan's), for the chooser."""
        super().__init__()
        self.setFixedWidth(290)
        self._updating = False

        self.system_prompt = QPlainTextEdit(placeholderText="The model's default")
        self.system_prompt.setFixedHeight(80)
        self.system_prompt.textChanged.connect(self._emit_changed)

        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, "Custom"])
        self.preset.activated.connect(self._apply_preset)
        sampling = QFormLayout()
        sampling.addRow("Preset", self.preset)
        # One box per sampling field, as its declaration gives it (label, range, step); each
        # is also this panel's attribute of the field's name (``panel.temperature``).
        self.sampling_boxes: dict[str, QSpinBox | QDoubleSpinBox] = {}
        for name, spec in SPECS.items():
            box = self._box(spec)
            self.sampling_boxes[name] = box
            setattr(self, name, box)
            sampling.addRow(spec.label, box)

        self.n_ctx = QSpinBox(minimum=0, maximum=1_048_576, singleStep=1024)
        self.n_ctx.setSpecialValueText("model default")
        self.gpu_layers = QComboBox(editable=True)
        self.gpu_layers.addItems(["auto", "all", "0"])
        self.gpu_layers.setToolTip(
            "auto: as many layers as fit; all: every layer; or a number of layers"
        )
        self.flash_attn = QCheckBox("Flash attention")
        self.kv_type = QComboBox()
        self.kv_type.addItems(KV_TYPES)
        self.kv_type.setToolTip(
            "Quantized KV cache (q8_0, q4_0) saves memory; it needs flash attention"
        )
        self.n_threads = QSpinBox(minimum=0, maximum=256)
        self.n_threads.setSpecialValueText("auto")
        self.draft_tokens = DraftingBox()  # auto, off or tokens a step
        self.draft_model = DraftModelChooser()
        self._adapter = ""
        self.adapter_button = AdapterChooser(adapters)
        self.adapter_button.chosen.connect(self.set_adapter)
        self.adapter_strength = StrengthSlider(1.0)
        self.adapter_strength.setToolTip("0: the model alone; 1: the adapter as trained")
        loading = QFormLayout()
        for label, widget in (
            ("Context length", self.n_ctx),
            ("GPU layers", self.gpu_layers),
            ("", self.flash_attn),
            ("KV cache", self.kv_type),
            ("Threads", self.n_threads),
            ("Drafting", self.draft_tokens),
            ("Draft model", self.draft_model),
            ("LoRA adapter", self.adapter_button),
            ("Strength", self.adapter_strength),
        ):
            loading.addRow(label, widget)
        self.reload_button = reload = QPushButton("Reload model with these")
        reload.clicked.connect(self.reload_requested)
        save = QPushButton("Save as this model's defaults")
        save.clicked.connect(self.save_default_requested)
        self.kv_note = QLabel("", objectName="hint", wordWrap=True)
        self.kv_type.currentTextChanged.connect(self._check_kv)
        self.flash_attn.toggled.connect(self._check_kv)

        # In a scroll area: the panel is ~700 px tall, and a 640-px window must still fit it.
        inner = QWidget(objectName="chatSettings")
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(8, 14, 16, 14)
        layout.addWidget(QLabel("System prompt"))
        layout.addWidget(self.system_prompt)
        sampling_box = QGroupBox("Sampling")
        sampling_box.setLayout(sampling)
        layout.addWidget(sampling_box)
        self.loading_box = loading_box = QGroupBox("Loading")
        loading_box.setLayout(loading)
        self.remote_note = QLabel(
            "This model runs on a remote server: its server sets the "
            "context, GPU layers and threads.",
            objectName="hint",
            wordWrap=True,
            visible=False,
        )
        layout.addWidget(self.remote_note)
        layout.addWidget(loading_box)
        layout.addWidget(self.kv_note)
        layout.addWidget(reload)
        layout.addWidget(save)
        layout.addStretch(1)

    def _box(self, spec: Spec) -> QSpinBox | QDoubleSpinBox:
        low, high, step = spec.box()
        box: QSpinBox | QDoubleSpinBox
        if spec.whole:
            box = QSpinBox(minimum=int(low), maximum=int(high), singleStep=int(step))
        else:
            box = QDoubleSpinBox(minimum=low, maximum=high, singleStep=step, decimals=2)
        box.setSpecialValueText(spec.special)
        if spec.help:
            box.setToolTip(spec.help[0].upper() + spec.help[1:])
        box.valueChanged.connect(self._sampling_edited)
        return box

    # -- values in and out ----------------------------------------------------------------
    def show_settings(self, settings: ModelSettings, system_prompt: str) -> None:
        self._updating = True
        self.system_prompt.setPlainText(system_prompt)
        for name, box in self.sampling_boxes.items():
            box.setValue(getattr(settings.sampling, name))
        self.n_ctx.setValue(settings.n_ctx)
        self.n_threads.setValue(settings.n_threads)
        self.draft_tokens.setValue(settings.draft_tokens)
        self.draft_model.set_path(settings.draft_model_path)
        self.set_adapter(settings.lora_path)
        self.adapter_strength.setValue(settings.lora_scale)
        self.gpu_layers.setCurrentText(settings.gpu_layers)
        self.flash_attn.setChecked(settings.flash_attn)
        self.kv_type.setCurrentText(settings.kv_type)
        self.preset.setCurrentText(settings.preset_name())
        self._updating = False
        self._check_kv()

    def settings(self) -> ModelSettings:
        # Any: each box holds its field's kind of number (Sampling checks them).
        values: dict[str, Any] = {n: box.value() for n, box in self.sampling_boxes.items()}
        return ModelSettings(
            sampling=Sampling(**values),
            n_ctx=self.n_ctx.value(),
            gpu_layers=self.gpu_layers.currentText().strip() or "auto",
            flash_attn=self.flash_attn.isChecked(),
            kv_type=self.kv_type.currentText(),
            n_threads=self.n_threads.value(),
            draft_tokens=self.draft_tokens.value(),
            draft_model_path=self.draft_model.path,
            lora_path=self._adapter,
            lora_scale=self.adapter_strength.value(),
        )

    def set_adapter(self, path: str) -> None:
        """Apply the LoRA adapter at ``path`` on the next load ("" for none)."""
        self._adapter = path
        self.adapter_button.set_path(path)
        self.adapter_strength.setEnabled(bool(path))

    def set_remote(self, remote: bool) -> None:
        """Hide the load settings, which only a local model has."""
        for widget in (self.loading_box, self.reload_button, self.kv_note):
            widget.setVisible(not remote)
        self.remote_note.setVisible(remote)

    def system_prompt_text(self) -> str:
        return self.system_prompt.toPlainText().strip()

    # -- reactions ------------------------------------------------------------------------
    @Slot(int)
    def _apply_preset(self, row: int) -> None:
        name = self.preset.itemText(row)
        if name in PRESETS:
            self.show_settings(self.settings().with_preset(name), self.system_prompt_text())
            self.changed.emit()

    @Slot()
    def _sampling_edited(self) -> None:
        if not self._updating:
            self.preset.setCurrentText(self.settings().preset_name())
            self.changed.emit()

    @Slot()
    def _emit_changed(self) -> None:
        if not self._updating:
            self.changed.emit()

    @Slot()
    def _check_kv(self) -> None:
        needs_flash = self.kv_type.currentText() != "f16" and not self.flash_attn.isChecked()
        self.kv_note.setText(
            "A quantized KV cache needs flash attention: it will be turned on "
            "when the model is loaded."
            if needs_flash
            else ""
        )
