"""File > Settings: the app-wide choices in one dialog (theme, model folders, default context,
comfortable speed, the API server).

The dialog edits a copy of the values; OK writes them into the one ``Settings`` object and the
window saves it (``Settings.save``, the one writer) and applies what changed. Each box's range
is the settings reader's (``app.core.config.settings.RANGES``), so a value saved here is never
one the next start would reset.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.config import limits
from app.core.config.settings import Settings
from app.ui.menus import THEME_CHOICES
from app.ui.theme import THEMES

MAX_SHOWN_CONTEXT = 1 << 20  # a million tokens: more than any model here is trained on


def _choose_folder(parent: QWidget) -> str:
    return QFileDialog.getExistingDirectory(parent, "Add a folder of GGUF models")


class SettingsDialog(QDialog):
    """Shows ``settings``' app-wide values; ``saved`` carries the names of those OK changed."""

    saved = Signal(list)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        choose_folder: Callable[[QWidget], str] = _choose_folder,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.choose_folder = choose_folder

        self.theme = QComboBox()
        for choice, label in THEME_CHOICES:
            self.theme.addItem(label.replace("&", ""), choice)
        self.theme.setCurrentIndex(
            self.theme.findData(settings.theme if settings.theme in THEMES else "system")
        )

        self.folders = QListWidget()
        self.folders.addItems(settings.model_folders)
        self.folders.setMinimumHeight(self.fontMetrics().height() * 4)
        self.folders.setMaximumHeight(self.fontMetrics().height() * 7)
        self.add_button = QPushButton("Add folder...")
        self.add_button.clicked.connect(self._add_folder)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_folder)
        folder_buttons = QVBoxLayout()
        folder_buttons.addWidget(self.add_button)
        folder_buttons.addWidget(self.remove_button)
        folder_buttons.addStretch(1)
        folders = QHBoxLayout()
        folders.addWidget(self.folders, 1)
        folders.addLayout(folder_buttons)

        self.context = QSpinBox()
        self.context.setRange(0, MAX_SHOWN_CONTEXT)
        self.context.setSingleStep(1024)
        self.context.setSpecialValueText("the model's own (at most 8,192)")
        self.context.setSuffix(" tokens")
        self.context.setValue(min(settings.n_ctx, MAX_SHOWN_CONTEXT))

        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.5, 1000.0)
        self.speed.setDecimals(1)
        self.speed.setSuffix(" tokens a second")
        self.speed.setValue(settings.comfortable_tok_s)

        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(settings.api_port)
        self.start_server = QCheckBox("Start the API server when Hearth starts")
        self.start_server.setChecked(settings.api_start_with_studio)

        # Numbers and a choice of three keep their own widths (a stretched port box looked
        # broken at 1920 px, issue 19).
        for box in (self.theme, self.context, self.speed, self.port):
            box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        looks = QFormLayout()
        looks.addRow("Theme", self.theme)
        models = QGroupBox("Models")
        models_form = QFormLayout(models)
        models_form.addRow("Also list the models in", folders)
        models_form.addRow(
            "",
            QLabel(
                "Hearth's own folder, Hugging Face's cache, LM Studio's and Ollama's models "
                "are always listed.",
                objectName="hint",
                wordWrap=True,
            ),
        )
        models_form.addRow("Context of a chat", self.context)
        models_form.addRow(
            "",
            QLabel(
                "Used by models you have not set up yourself (Chat's settings set one model's).",
                objectName="hint",
                wordWrap=True,
            ),
        )
        models_form.addRow("Comfortable speed", self.speed)
        models_form.addRow(
            "",
            QLabel(
                "Recommended quants answer at least this fast on this computer when one does.",
                objectName="hint",
                wordWrap=True,
            ),
        )
        server = QGroupBox("Local API server")
        server_form = QFormLayout(server)
        server_form.addRow("Port", self.port)
        server_form.addRow("", self.start_server)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(looks)
        layout.addWidget(models)
        layout.addWidget(server)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.resize(620, self.sizeHint().height())
        self.folders.currentRowChanged.connect(self._update_remove)
        self._update_remove()

    def values(self) -> dict[str, object]:
        """What the dialog shows, by settings field."""
        return {
            "theme": self.theme.currentData(),
            "model_folders": [self.folders.item(i).text() for i in range(self.folders.count())],
            "n_ctx": limits.context(self.context.value()),
            "comfortable_tok_s": round(self.speed.value(), 1),
            "api_port": self.port.value(),
            "api_start_with_studio": self.start_server.isChecked(),
        }

    def accept(self) -> None:
        changed = [
            name for name, value in self.values().items() if getattr(self.settings, name) != value
        ]
        for name in changed:
            setattr(self.settings, name, self.values()[name])
        super().accept()
        self.saved.emit(changed)

    @Slot()
    def _add_folder(self) -> None:
        folder = self.choose_folder(self)
        shown = [self.folders.item(i).text() for i in range(self.folders.count())]
        if folder and folder not in shown:
            self.folders.addItem(folder)
            self.folders.setCurrentRow(self.folders.count() - 1)

    @Slot()
    def _remove_folder(self) -> None:
        row = self.folders.currentRow()
        if row >= 0:
            self.folders.takeItem(row)
        self._update_remove()

    @Slot()
    def _update_remove(self) -> None:
        self.remove_button.setEnabled(self.folders.currentRow() >= 0)
