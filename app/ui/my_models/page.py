"""My Models: every local GGUF model, wherever it lives, with the starter model first.

Actions: chat, compare (two or more), show in the file manager, delete (with confirmation: files
of other apps or of the user's folders are only removed from the list unless deleting the file
is chosen explicitly), "Add folder..." to list the models of another folder, and "Quants": a pane
with the quant picker for the selected model's family of local files (the other quants of the same
model: same architecture, parameters and name in their headers). The LoRA adapters found have a
short section of their own under the table (``adapters.py``), where "Show in folder" and
"Delete..." act on the one selected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QSortFilterProxyModel, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.common.units import format_size
from app.core.fit.machine_info import MachineInfo
from app.core.library import catalog
from app.core.library.catalog import LocalModel
from app.core.library.names import base_name
from app.ui.common.columns import ColumnFitter
from app.ui.common.confirm import ask_yes_no
from app.ui.common.folders import OPEN_FOLDER
from app.ui.common.tasks import run_task
from app.ui.my_models.adapters import AdaptersSection, base_words
from app.ui.my_models.library_model import (
    SOURCE_LABELS,
    LibraryModel,
    ModelRole,
    SortRole,
    path_line,
)
from app.ui.quant_picker.picker import QuantPicker

if TYPE_CHECKING:
    from app.core.measure.store import MeasureStore


def _choose_folder(parent: QWidget) -> str:
    return QFileDialog.getExistingDirectory(parent, "Add a folder of GGUF models")


NAME_FLOOR = 160  # px: "SmolLM2-1…Instruct", a model's name still told apart


class ModelsPage(QWidget):
    chat_requested = Signal(str)  # a model's path
    compare_requested = Signal(list)  # paths of the models to compare
    refresh_requested = Signal()
    folders_changed = Signal(list)  # the user's model folders, after "Add folder..."
    hidden_changed = Signal(list)  # paths removed from the list (their files were kept)
    message = Signal(str)  # what the last action did

    def __init__(
        self,
        library: LibraryModel,
        *,
        folders: list[str] | None = None,
        hidden: list[str] | None = None,
        confirm: Callable[[QWidget, str], bool] = ask_yes_no,
        choose_folder: Callable[[QWidget], str] = _choose_folder,
        open_url: Callable[[QUrl], object] = QDesktopServices.openUrl,
        machine=None,
        measure_store: MeasureStore,
        machine_info: MachineInfo,
        comfortable_tok_s: float | None = None,
    ) -> None:
        """``comfortable_tok_s``: the settings' comfortable speed, which the quant picker's
        Recommended weighs (None: the default)."""
        super().__init__()
        self.measure_store = measure_store
        self.library = library
        library.set_detail_columns(True)
        self.folders, self.hidden = list(folders or []), list(hidden or [])
        self.confirm, self.choose_folder, self.open_url = confirm, choose_folder, open_url
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(library)
        self.proxy.setSortRole(SortRole)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(
            -1, Qt.SortOrder.AscendingOrder
        )  # the library's order until a click
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        # Names are short; a long repo or folder keeps both ends, and shows whole (with the
        # file's path) in the line under the table.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # Each column as wide as its text within the table's width. The name is what the user
        # reads, then where the file came from: they stay whole while the architecture and
        # then the source step aside (elided in the middle when even that is not enough; the
        # line under the table says the file and where it came from whole). Sized to
        # contents, the table scrolled sideways in a 1024-px window; then the name was cut to
        # "SmolLM2-1…-Instruct" beside a roomy Architecture (issue 19).
        name, origin = library.column("Name"), library.column("From")
        self.columns = ColumnFitter(
            self.table,
            elastic=[library.column(c) for c in ("Name", "Architecture", "Source", "From")],
            floors={name: lambda: NAME_FLOOR},
            optional=[library.column("Architecture"), library.column("Source")],
            first=[name, origin],
        )
        self.table.doubleClicked.connect(self._chat_with_current)
        self.summary = QLabel(objectName="hint")
        self.status = QLabel(objectName="hint", wordWrap=True)
        library.modelReset.connect(self._update_summary)
        library.modelReset.connect(self.work_out_speeds)

        self.picker = QuantPicker(
            machine, machine_info=machine_info, comfortable_tok_s=comfortable_tok_s
        )
        self.picker.title.setText("<b>Quants of this model on this computer</b>")
        self.picker.hide()
        self.table.selectionModel().selectionChanged.connect(self._selection_moved)
        self.details = QLabel(
            objectName="hint",
            textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse,
            wordWrap=True,
        )

        self.buttons = {}
        actions = (
            ("Add folder...", self.add_folder),
            ("Refresh", self.refresh_requested),
            ("Quants", self.toggle_quants),
            ("Show in folder", self.reveal),  # its menu says "Open containing folder"
            ("Compare", self.compare),
            ("Delete...", self._delete_clicked),
            ("Chat with this model", self._chat_with_current),
        )
        # The summary has a line of its own: beside the seven buttons it made My Models wider
        # than a 1024-px window (1192 px with two models, issue 19's newcomer walk).
        row = QHBoxLayout()
        row.addStretch(1)
        for label, slot in actions:
            button = QPushButton(label, objectName="primary" if label.startswith("Chat") else "")
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[label] = button
        self.buttons["Quants"].setCheckable(True)
        self.buttons["Quants"].setToolTip(
            "Compare the quants of the selected model you have: "
            "which fits, expected quality, which to use"
        )

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(QLabel("My Models", objectName="pageTitle"))
        self.adapters = AdaptersSection(library)
        self.adapters.table.customContextMenuRequested.connect(self._adapter_menu)
        self.adapters.table.selectionModel().selectionChanged.connect(self._adapter_selected)
        self.table.selectionModel().selectionChanged.connect(self._model_selected)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.table)
        self.split.addWidget(self.adapters)
        self.split.addWidget(self.picker)
        self.split.setSizes([250, 1, 470])  # the adapters' section: as short as its rows
        layout.addWidget(self.split, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.status)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        self._update_summary()  # built after the library's scan: the count at once, not blank

    # -- selection --------------------------------------------------------------------------------

    def selected_models(self) -> list[LocalModel]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [index.data(ModelRole) for index in rows]

    def select(self, *paths: str) -> None:
        """Select the rows of these model paths (for keyboard users and tests)."""
        self.table.clearSelection()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if str(index.data(ModelRole).path) in paths:
                self.table.selectionModel().select(
                    index,
                    self.table.selectionModel().SelectionFlag.Select
                    | self.table.selectionModel().SelectionFlag.Rows,
                )
                self.table.scrollTo(index)

    @Slot()
    def _update_summary(self) -> None:
        models = self.library.models()
        total = sum(m.size_bytes for m in models)
        count = f"{len(models)} model" + ("" if len(models) == 1 else "s")
        self.summary.setText(f"{count}, {format_size(total)} on disk")
        if models:
            self.table.selectRow(0)
        if self.picker.isVisible():
            self.show_quants()

    # -- quants -----------------------------------------------------------------------------------

    @Slot()
    def toggle_quants(self) -> None:
        shown = self.buttons["Quants"].isChecked()
        self.picker.setVisible(shown)
        if shown:
            self.show_quants()

    def show_quants(self) -> None:
        """The quant picker for the selected model and the other quants of it found here."""
        selected = self.selected_models()
        if not selected:
            self.picker.clear("Select a model to see its quants.")
            return
        model, everything, store = selected[0], self.library.models(), self.measure_store
        self.picker.title.setText(f"<b>Quants of {base_name(model)} on this computer</b>")

        def loader():
            from app.core.quants import sources

            return sources.local_items(model, everything, store)

        self.picker.load(loader, model.context_length)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Coming back to My Models (after measuring on Compare, say) shows fresh quants, and
        speeds (a chat since measured its file)."""
        super().showEvent(event)
        self.work_out_speeds()
        if self.picker.isVisibleTo(self):
            self.show_quants()

    # -- speed here -------------------------------------------------------------------------------

    @Slot()
    def work_out_speeds(self) -> None:
        """ "Speed here" for every file, off the GUI thread: the quant picker's figures, from
        its machine and speed figures (the studio's, or those a test fixed)."""
        models, picker = self.library.models(), self.picker
        machine, info, speeds = picker.machine, picker.machine_info, picker.speeds
        if not models or not self.isVisible():
            return
        from app.ui.my_models.speeds import speeds_here

        run_task(
            lambda: speeds_here(models, info, machine=machine, speeds=speeds),
            self.library.set_speeds,
            self._on_speeds_failed,
            self,
            key="speeds",
        )

    @Slot(str)
    def _on_speeds_failed(self, message: str) -> None:
        self.library.set_speeds({})  # "—" for each: the figures are extras, the list stands
        self._say(message, "error")

    @Slot()
    def _selection_moved(self, *_args) -> None:
        """The line under the table and the quants follow the selection, not the current row
        (a Ctrl+click that let F16 go kept saying Q4_1's path while F16 stayed selected)."""
        models = self.selected_models()
        if len(models) > 1:
            self.details.setText(
                f"{len(models)} selected: " + ", ".join(m.path.name for m in models)
            )
        else:
            self.details.setText(path_line(models[0]) if models else "")
        if self.picker.isVisible():
            self.show_quants()

    # -- actions ----------------------------------------------------------------------------------

    @Slot()
    def _chat_with_current(self) -> None:
        models = self.selected_models()
        if models:
            self.chat_requested.emit(str(models[0].path))
        elif adapters := self.adapters.selected():
            self._say(
                f"A LoRA adapter does not chat on its own: load {base_words(adapters[0])} in "
                "Chat, then choose the adapter under Loading > LoRA adapter."
            )

    @Slot()
    def compare(self) -> None:
        models = self.selected_models()
        if len(models) < 2:
            self._say("Select two or more models to compare (Ctrl+click adds one).")
            return
        self.compare_requested.emit([str(m.path) for m in models])

    def _targets(self) -> list[LocalModel]:
        """What "Show in folder" and "Delete..." act on: the selected models, else the
        selected LoRA adapter."""
        return self.selected_models() or self.adapters.selected()

    @Slot()
    def _adapter_selected(self) -> None:
        """One selection at a time: an adapter chosen, the models' rows let go (and back)."""
        chosen = self.adapters.selected()
        if chosen:
            self.table.clearSelection()
            self.details.setText(
                f"{path_line(chosen[0])}. LoRA adapter for {base_words(chosen[0])}"
            )

    @Slot()
    def _model_selected(self) -> None:
        if self.table.selectionModel().hasSelection():
            self.adapters.table.clearSelection()

    @Slot(QPoint)
    def _adapter_menu(self, position: QPoint) -> None:
        chosen = self.adapters.selected()
        if not chosen:
            return
        menu = QMenu(self)
        menu.addAction(OPEN_FOLDER, self.reveal)
        owned = chosen[0].source in catalog.OWNED
        menu.addAction("Delete..." if owned else "Remove from list...", self._delete_clicked)
        menu.popup(self.adapters.table.viewport().mapToGlobal(position))

    @Slot()
    def reveal(self) -> None:
        for model in self._targets()[:1]:
            self.open_url(QUrl.fromLocalFile(str(model.path.parent)))

    @Slot()
    def add_folder(self) -> None:
        folder = self.choose_folder(self)
        if not folder:
            return
        if folder not in self.folders:
            self.folders.append(folder)
            self.folders_changed.emit(list(self.folders))
        self._say(f"Models in {folder} are listed with yours.")
        self.refresh_requested.emit()

    def delete(self, delete_file: bool = False) -> None:
        """Delete the selected model: its files when Hearth owns them (or when ``delete_file``),
        else only its line in the list. Always asks first. A LoRA adapter selected instead: its
        own files, never its base model's."""
        models = self._targets()
        if not models:
            return
        model = models[0]
        size = format_size(model.size_bytes)
        app = catalog.APP_NAMES.get(model.source, SOURCE_LABELS.get(model.source, model.source))
        owned = model.source in catalog.OWNED
        if owned:
            question = f"Delete {model.name} ({size})? Its file(s) will be removed from disk."
            if model.adapter_of is not None:
                question += f" The model it is for ({base_words(model)}) stays."
        elif delete_file:
            question = (
                f"Delete the file {model.path} ({size}) from disk? It belongs to {app}, "
                "which will no longer find it. This cannot be undone."
            )
        else:
            question = (
                f"Remove {model.name} from Hearth's list? The file is not deleted: it "
                f"stays at {model.path} ({app})."
            )
        if not self.confirm(self, question):
            return
        self._say(
            f"Deleting {model.name}..."
            if delete_file or owned
            else f"Removing {model.name} from the list..."
        )
        run_task(
            lambda: catalog.delete_model(model, delete_file=delete_file),
            self._on_deleted,
            self._on_delete_failed,
            self,
        )

    @Slot(object)
    def _on_deleted(self, outcome: catalog.DeleteOutcome) -> None:
        if outcome.hidden and outcome.hidden not in self.hidden:
            self.hidden.append(outcome.hidden)
            self.hidden_changed.emit(list(self.hidden))
        self._say(outcome.message)
        self.refresh_requested.emit()

    @Slot(str)
    def _on_delete_failed(self, message: str) -> None:
        self._say(message, "error")

    @Slot()
    def _delete_clicked(self) -> None:
        self.delete()

    @Slot()
    def _delete_file(self) -> None:
        self.delete(delete_file=True)

    @Slot(QPoint)
    def _menu(self, position: QPoint) -> None:
        models = self.selected_models()
        if not models:
            return
        menu = QMenu(self)
        menu.addAction("Chat with this model", self._chat_with_current)
        menu.addAction("Compare", self.compare).setEnabled(len(models) > 1)
        menu.addAction(OPEN_FOLDER, self.reveal)
        menu.addSeparator()
        owned = models[0].source in catalog.OWNED
        menu.addAction("Delete..." if owned else "Remove from list...", self._delete_clicked)
        if not owned:
            action = menu.addAction("Delete the file from disk...", self._delete_file)
            action.setEnabled(models[0].source != catalog.SOURCE_OLLAMA)
        menu.popup(self.table.viewport().mapToGlobal(position))

    def _say(self, text: str, kind: str = "hint") -> None:
        self.status.setText(text)
        if self.status.objectName() != kind:
            self.status.setObjectName(kind)
            self.status.style().unpolish(self.status)
            self.status.style().polish(self.status)
        self.message.emit(text)
