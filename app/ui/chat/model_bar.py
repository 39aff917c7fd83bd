"""The top of Chat: the page's title, the model picker and Settings; under them the model's
status line, with the load's progress bar and its cancel button while a model loads.

Only the layout: ``ChatModelControl`` owns these widgets and what they do.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.ui.chat.model_control import ChatModelControl


class ModelBar(QWidget):
    def __init__(self, models: ChatModelControl) -> None:
        super().__init__()
        top = QHBoxLayout()
        top.addWidget(QLabel("Chat", objectName="pageTitle"))
        top.addStretch(1)
        top.addWidget(models.picker)
        top.addWidget(models.settings_button)
        status = QHBoxLayout()
        status.addWidget(models.status, 1)
        status.addWidget(models.load_bar)
        status.addWidget(models.cancel_load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(status)
