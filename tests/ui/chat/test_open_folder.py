"""Right-click on a local model in Chat's picker: "Open containing folder" opens the folder that
holds the file in the desktop's file manager (issue 19); a remote model has no such menu."""

from __future__ import annotations

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from app.core.inference.remote import ConnectionStore
from app.core.library.catalog import LocalModel
from app.ui.chat.model_picker import ModelPicker
from app.ui.common.folders import OPEN_FOLDER
from app.ui.my_models.library_model import LibraryModel


class FileManager(QObject):
    """Stands in for the desktop's file manager: Qt hands it the file: URLs it is asked to open."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def show(self, url: QUrl) -> None:
        self.opened.append(url.toLocalFile())


def test_open_containing_folder_of_the_chosen_model(qtbot, starter_home, starter_gguf, tmp_path):
    starter = starter_home.models_dir / starter_gguf.name
    library = LibraryModel()
    library.set_models([LocalModel(starter_gguf.stem, starter, "Q4_1", 1, "starter")])
    picker = ModelPicker(library, ConnectionStore(tmp_path / "connections.json"))
    qtbot.addWidget(picker)
    picker.show()
    manager = FileManager()
    QDesktopServices.setUrlHandler("file", manager, "show")
    try:
        menu = picker.folder_menu(picker.currentIndex())
        assert [a.text() for a in menu.actions()] == [OPEN_FOLDER]
        menu.actions()[0].trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert manager.opened == [str(starter_home.models_dir)]
    manage_row = picker.count() - 1  # "Manage connections...": no file, no menu
    assert picker.folder_menu(manage_row) is None and picker.folder_menu(-1) is None
