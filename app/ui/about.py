"""Help > About Hearth: Hearth's version, and the version and license of each part it ships.

The licenses are written here, not read from the installed packages' metadata: their license
fields are free text (some hold the whole license, some nothing), and what a user needs is the
short name. The versions come from the installed packages (empty in a bundle without their
metadata: "bundled" is shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

from PySide6 import QtCore
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import app
from app.core.library import starter


@dataclass(frozen=True)
class Part:
    name: str
    version: str
    license: str
    role: str  # what it does in Hearth, in a few words


# (name shown, distribution name for its version, license, what it does)
_PARTS = (
    ("Qt", "", "LGPL-3.0", "the window and its widgets"),
    ("PySide6", "PySide6", "LGPL-3.0", "Qt for Python"),
    ("llama.cpp", "", "MIT", "runs the models (built into llama-cpp-python)"),
    ("llama-cpp-python", "llama_cpp_python", "MIT", "llama.cpp for Python"),
    ("huggingface_hub", "huggingface_hub", "Apache-2.0", "search and downloads"),
    ("gguf", "gguf", "MIT", "reads model files"),
    ("Jinja2", "Jinja2", "BSD-3-Clause", "chat templates"),
    ("NumPy", "numpy", "BSD-3-Clause", "quality measurements"),
    ("markdown-it-py", "markdown-it-py", "MIT", "shows answers as Markdown"),
    ("Pygments", "Pygments", "BSD-2-Clause", "colours code in answers"),
    ("psutil", "psutil", "BSD-3-Clause", "memory and processor facts"),
    ("nvidia-ml-py", "nvidia-ml-py", "BSD-3-Clause", "NVIDIA graphics card facts"),
    ("platformdirs", "platformdirs", "MIT", "where settings and models live"),
)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "bundled"


def parts() -> list[Part]:
    """Every part Hearth ships with its version and license, the starter model last."""
    shown = []
    for name, distribution, license_name, role in _PARTS:
        if name == "Qt":
            version = QtCore.qVersion()
        elif name == "llama.cpp":
            version = "built in"
        else:
            version = _version(distribution)
        shown.append(Part(name, version, license_name, role))
    shown.append(
        Part(
            starter.DISPLAY_NAME.replace(" (starter)", ""),
            starter.FILE_NAME.rsplit(".", 2)[-2],  # its quant, Q4_1
            starter.LICENSE,
            "the starter model",
        )
    )
    return shown


class AboutDialog(QDialog):
    """What Hearth is, its version, and its parts in a table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Hearth")
        self.title = QLabel(f"Hearth {app.__version__}", objectName="pageTitle")
        self.summary = QLabel(
            "A desktop model studio: find a model that fits this computer, download it, chat "
            "with it and compare its quants, all on this computer. Hearth is free software "
            "under the Apache-2.0 license.",
            objectName="hint",
            wordWrap=True,
        )
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(("Part", "Version", "License", "Used for"))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # nothing to edit: no focus frame
        for part in parts():
            row = self.table.rowCount()
            self.table.insertRow(row)
            for column, text in enumerate((part.name, part.version, part.license, part.role)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons, 0, Qt.AlignmentFlag.AlignRight)
        self.resize(760, 640)

    def shown_parts(self) -> dict[str, tuple[str, str]]:
        """What the table shows: part -> (version, license)."""
        return {
            self._cell(row, 0): (self._cell(row, 1), self._cell(row, 2))
            for row in range(self.table.rowCount())
        }

    def _cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""
