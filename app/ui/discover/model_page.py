"""The model page: a Hub repo's card, facts and GGUF files, each with a fit badge and a Download
button that queues it in the DownloadManager. Split files show as one row; vision projector
(mmproj) files are listed apart, and a model's Download queues one of them with it (the quant
picker's row names it and counts it in the size and fit) unless it is already here. Above the
files, the quant picker: every quant's fit at a chosen context, its expected quality and the
recommended one (selected in the files table, ready for Download); a row chosen there is
selected in the files table, and has its own Download. A file
already on this computer offers "Downloaded · Chat" instead. A gated model says once what to do,
with links, and its Download waits for a token (one huggingface_hub knows is used). A repo with no
GGUF files offers a search for GGUF versions of it. A repo of LoRA adapters says which model
they are made for ("LoRA adapter for ORG/NAME", ``hub.adapters``) in place of the quant picker:
an adapter cannot chat on its own; downloaded, Chat's LoRA adapter chooser lists it. Everything from the Hub is fetched off the GUI
thread."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core.common.markdown import render_markdown
from app.core.fit.machine_info import MachineInfo
from app.core.hub import adapters, files
from app.core.hub.client import HubClient, age
from app.core.hub.files import ModelDetails, format_params
from app.ui.common.button_delegate import ButtonDelegate
from app.ui.common.elided_label import ElidedLabel
from app.ui.common.tasks import run_task
from app.ui.discover.result_delegate import FitDelegate
from app.ui.discover.results_model import FileRole, QuantFilesModel
from app.ui.discover.token_entry import TokenEntry
from app.ui.downloads.manager import DownloadManager
from app.ui.quant_picker.picker import QuantPicker

log = logging.getLogger("hearth.ui.model_page")

ACCESS = {
    False: "Open: anyone can download it",
    "auto": "Gated: access is granted at once",
    "manual": "Gated: its authors grant access",
}
DOWNLOADED = "Downloaded · Chat"
NEEDS_TOKEN = "Add a Hugging Face token above to download this gated model"
TOKEN_PAGE = "https://huggingface.co/settings/tokens"
FILES_LABEL = "<b>Files</b> — one row per model; split files download together"
ADAPTER_FILES_LABEL = "<b>Files</b> — LoRA adapters, not models: each changes its base model"


def adapter_note(base: str) -> str:
    """What an adapter repo is and how to use it, in two sentences."""
    model = base or "the model it was made for"
    return (
        f"{adapters.adapter_words(base)}. An adapter changes how {model} answers and cannot "
        f"chat on its own: download it, load {model} in Chat, then choose the adapter under "
        "Loading > LoRA adapter."
    )


def gated_note(repo_url: str, manual: bool, token_known: bool) -> str:
    """What to do about a gated model, in one sentence with its two links (rich text)."""
    page = f'<a href="{repo_url}">the model\'s page</a>'
    ask = "request access on" if manual else "accept its conditions on"
    if token_known:
        return (
            f"Hearth uses your saved Hugging Face token; if the download is refused, {ask} "
            f"{page} while signed in to that account."
        )
    return (
        f"To download this gated model, {ask} {page}, then paste a read token from "
        f'<a href="{TOKEN_PAGE}">your token page</a> here.'
    )


def token_known(client: HubClient) -> bool:
    """Whether downloads carry a token: the client's own, else the one huggingface_hub knows
    (``HF_TOKEN``, or the token stored by ``hf auth login`` or Hearth)."""
    if isinstance(client.token, str):
        return bool(client.token.strip())
    if client.token is False:
        return False
    from huggingface_hub import get_token

    return get_token() is not None


class CardView(QTextBrowser):
    """The rendered model card. Remote images are not fetched; links open in the browser."""

    def __init__(self) -> None:
        super().__init__()
        self.setOpenLinks(False)
        # Headings a step above the text, not Qt's 2x: the card sits in a narrow column.
        self.document().setDefaultStyleSheet(
            "h1 { font-size: x-large; } h2 { font-size: large; } h3, h4 { font-size: medium; }"
        )
        self.base_url = ""
        self.anchorClicked.connect(self._open)

    def loadResource(self, kind: int, url: QUrl | str) -> None:  # noqa: N802 - Qt override
        return None

    @Slot(QUrl)
    def _open(self, url: QUrl) -> None:
        if url.isRelative() and self.base_url:
            url = QUrl(self.base_url).resolved(url)
        QDesktopServices.openUrl(url)


def without_title(card: str, repo_id: str) -> str:
    """The card without a first heading that only repeats the repo's name: the page's title
    says it, and in the card's narrow column it wrapped over 2-4 lines (issue 19)."""
    lines = card.lstrip().split("\n", 1)
    heading = lines[0].lstrip("#").strip().strip("*_`").lower() if lines[0].startswith("#") else ""
    name = repo_id.rsplit("/", 1)[-1].lower()
    if heading and heading in (name, repo_id.lower()):
        return lines[1] if len(lines) > 1 else ""
    return card


def _hub_adapter(client: HubClient, details: ModelDetails, name: str) -> str | None:
    """The base model a Hub file's header names when it is a LoRA adapter ("" unnamed), else
    None (also when the header cannot be read: the fits then go on from file sizes)."""
    from app.core.common.errors import HearthError

    try:
        return adapters.read_hub_adapter(
            details.id, name, revision=details.sha, endpoint=client.endpoint, token=client.token
        )
    except HearthError as exc:
        log.info("Could not tell whether %s is an adapter: %s", name, exc)
        return None


def _files_table(model: QuantFilesModel, buttons: ButtonDelegate) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setItemDelegateForColumn(QuantFilesModel.FIT, FitDelegate(table))
    table.setItemDelegateForColumn(QuantFilesModel.ACTION, buttons)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setMouseTracking(True)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(34)
    table.setWordWrap(False)
    table.setTextElideMode(
        Qt.TextElideMode.ElideMiddle
    )  # keep the quant at the end of long names visible
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(QuantFilesModel.FILE, QHeaderView.ResizeMode.Stretch)
    return table


class ModelPage(QWidget):
    back_requested = Signal()
    loaded = Signal(str)  # repo id, once its details are shown
    failed = Signal(str)
    fits_ready = Signal()
    token_saved = Signal(str)  # the message shown (never the token)
    chat_requested = Signal(str)  # a file of this repo already here: chat with it
    search_requested = Signal(str)  # search Discover for this text (GGUF versions of a repo)

    def __init__(
        self,
        endpoint: str | None = None,
        downloads: DownloadManager | None = None,
        models_dir: Path | None = None,
        *,
        client: HubClient | None = None,
        machine=None,
        machine_info: MachineInfo,
        library=None,
        comfortable_tok_s: float | None = None,
    ) -> None:
        """``library``: the local models (a ``LibraryModel``), to offer "Downloaded · Chat"
        for a file already here. ``comfortable_tok_s``: the settings' comfortable speed (the
        quant picker's Recommended weighs it; None: the default)."""
        super().__init__()
        self.client = client or HubClient(endpoint)
        self.downloads, self.models_dir, self.machine = downloads, models_dir, machine
        self.library = library
        self.token_known = False
        self.machine_info = machine_info
        self.details: ModelDetails | None = None
        self.adapter_of: str | None = None  # an adapter repo: its base model ("" unknown)

        self.back = QPushButton("← Back to results")
        self.back.clicked.connect(self.back_requested)
        # One line, elided (the whole id in its tooltip): a long repo name wrapped over
        # several lines or widened the window (issue 19).
        self.title = ElidedLabel(objectName="pageTitle")
        self.subtitle = QLabel(objectName="hint")
        self.status = QLabel(objectName="hint", wordWrap=True)
        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addWidget(self.title, 1)

        self.facts = {
            name: QLabel(
                wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse
            )
            for name in ("License", "Access", "Parameters", "Architecture", "Context", "Base model")
        }
        facts = QFrame(objectName="facts")
        grid = QGridLayout(facts)
        grid.setContentsMargins(0, 4, 0, 4)
        for i, (name, label) in enumerate(self.facts.items()):
            grid.addWidget(QLabel(f"<b>{name}</b>"), i // 3, (i % 3) * 2)
            grid.addWidget(label, i // 3, (i % 3) * 2 + 1)
        for index in (1, 3, 5):
            grid.setColumnStretch(index, 1)

        self.token_box = TokenEntry(lambda: self.client.endpoint)  # checks, then stores
        self.token, self.token_note = self.token_box.field, self.token_box.note
        self.token_box.saved.connect(self.token_saved)
        self.token_box.saved.connect(self._on_token_saved)
        self.token_box.hide()

        self.card = CardView()
        self.files = QuantFilesModel(self)
        self.projectors = QuantFilesModel(self)
        buttons = ButtonDelegate(self, enabled_role=FileRole.Enabled)
        buttons.clicked.connect(self._download_clicked)
        projector_buttons = ButtonDelegate(self, enabled_role=FileRole.Enabled)
        projector_buttons.clicked.connect(self._projector_clicked)
        self.files_table = _files_table(self.files, buttons)
        self.projectors_table = _files_table(self.projectors, projector_buttons)
        self.projectors_table.setColumnHidden(QuantFilesModel.FIT, True)  # not models
        self.projectors_label = QLabel(
            "<b>Vision projector files</b> — add one to a model to let it read images",
            wordWrap=True,
        )
        self.picker = QuantPicker(
            machine,
            models_dir=models_dir,
            machine_info=self.machine_info,
            comfortable_tok_s=comfortable_tok_s,
        )
        self.picker.ready.connect(self._on_picker_ready)
        self.picker.chosen.connect(self.select_file)
        self.picker.action_clicked.connect(self.file_action)
        self.files.dataChanged.connect(self._sync_picker_actions)
        self.files.modelReset.connect(self._sync_picker_actions)
        self.no_gguf_text = QLabel(wordWrap=True, objectName="note")
        self.gguf_search = QPushButton("Search for GGUF versions", objectName="primary")
        self.gguf_search.clicked.connect(self._search_gguf)
        self.no_gguf = QFrame()
        no_gguf = QVBoxLayout(self.no_gguf)
        no_gguf.setContentsMargins(0, 6, 0, 0)
        no_gguf.addWidget(self.no_gguf_text)
        no_gguf.addWidget(self.gguf_search, 0, Qt.AlignmentFlag.AlignLeft)
        no_gguf.addStretch(1)
        self.no_gguf.hide()
        files_box = QWidget()
        column = QVBoxLayout(files_box)
        column.setContentsMargins(0, 6, 0, 0)
        self.adapter_note = QLabel(wordWrap=True, objectName="note")
        self.adapter_note.hide()
        self.files_label = QLabel(FILES_LABEL, wordWrap=True)
        column.addWidget(self.adapter_note)
        column.addWidget(self.files_label)
        column.addWidget(self.files_table, 1)
        column.addWidget(self.projectors_label)
        column.addWidget(self.projectors_table)
        self.files_box = files_box
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.picker)
        right.addWidget(files_box)
        right.addWidget(self.no_gguf)
        right.setSizes([480, 240, 0])
        right.setChildrenCollapsible(False)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.card)
        splitter.addWidget(right)
        splitter.setSizes([200, 900])  # the quant table needs the room more than the card

        # Below the title the page scrolls: in a 640-px window with the downloads dock open
        # it was squeezed until the quant table showed only its header (issue 19). The tables
        # keep room for rows (the picker's minimum height, no collapsing splitter).
        body = QWidget(objectName="page")
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.subtitle)
        column.addWidget(self.status)
        column.addWidget(facts)
        column.addWidget(self.token_box)
        column.addWidget(splitter, 1)
        splitter.setChildrenCollapsible(False)
        self.body = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self.body.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addLayout(top)
        layout.addWidget(self.body, 1)
        if downloads is not None:
            downloads.state_changed.connect(self._on_download_state)
        if library is not None:
            library.modelReset.connect(self._sync_local)

    # -- loading ----------------------------------------------------------------------------------

    def show_repo(self, repo_id: str) -> None:
        """Show ``repo_id``'s page; its details arrive off the GUI thread."""
        client = self.client
        self.title.setText(repo_id)
        self.subtitle.setText("")
        self.status.setText("Loading the model's details from the Hub...")
        self.status.setObjectName("hint")
        self._restyle(self.status)
        # One key for the details and then the fits: a newer repo drops whichever is in flight.
        run_task(
            lambda: client.details(repo_id), self._on_details, self._on_failed, self, key="repo"
        )

    @Slot(object)
    def _on_details(self, details: ModelDetails) -> None:
        self.details = model = details
        info = details.model
        self.title.setText(info.id)
        self.subtitle.setText(
            f"by {info.author}  ·  ⬇ {info.downloads:,}  ·  ♥ {info.likes:,}"
            + (f"  ·  updated {age(info.last_modified)}" if info.last_modified else "")
        )
        # A gated model's card is refused too: the note above the token says what to do, once.
        card_note = "" if details.gated else details.card_note
        self.status.setText(card_note)
        self.status.setVisible(bool(card_note))
        self.facts["License"].setText(model.license or "Not stated")
        self.facts["Access"].setText(ACCESS.get(details.gated, f"Gated ({details.gated})"))
        self.facts["Parameters"].setText(format_params(info.parameters) or "Unknown")
        self.facts["Architecture"].setText(info.architecture or "Unknown")
        self.facts["Context"].setText(
            f"{info.context_length:,} tokens" if info.context_length else "Unknown"
        )
        self.facts["Base model"].setText(model.base_model or "—")
        self.token_known = bool(details.gated) and token_known(self.client)
        self.token_box.setVisible(bool(details.gated))
        self.token_box.reset(
            gated_note(
                f"{self.client.endpoint}/{info.id}", details.gated == "manual", self.token_known
            )
        )
        self.token_box.set_asking(not self.token_known)
        self.card.base_url = f"{self.client.endpoint}/{info.id}/blob/main/"
        self.card.setHtml(
            render_markdown(without_title(details.card, info.id))
            if details.card
            else "<p><i>No model card to show.</i></p>"
        )
        self.files.set_files(details.files, info.id)
        self._show_no_gguf(details)
        self._show_adapter(details.adapter_of)
        self.picker.clear("Reading the model's header from the Hub to see what fits...")
        self.projectors.set_files(details.projectors, info.id)
        self.projectors_label.setVisible(bool(details.projectors))
        self.projectors_table.setVisible(bool(details.projectors))
        rows = self.projectors_table.verticalHeader().defaultSectionSize() * len(details.projectors)
        self.projectors_table.setMaximumHeight(
            rows + self.projectors_table.horizontalHeader().sizeHint().height() + 12
        )
        self._sync_download_states()
        self._sync_local()
        self.loaded.emit(info.id)
        if details.files and details.adapter_of is None:
            self._estimate_fits(details)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status.show()
        self.status.setText(message)
        self.status.setObjectName("error")
        self._restyle(self.status)
        self.failed.emit(message)

    def _estimate_fits(self, details: ModelDetails) -> None:
        client, machine = self.client, self.machine
        info = self.machine_info

        def work():
            from app.core.common.errors import HearthError, InvalidModelFile
            from app.core.quants import sources

            here = machine or info.machine()
            shape = None
            if details.files:
                smallest = details.files[0]
                try:
                    shape = client.file_shape(details.id, smallest.name, revision=details.sha)
                except InvalidModelFile as exc:  # no model: an adapter the listing did not tag?
                    base = _hub_adapter(client, details, smallest.name)
                    if base is not None:
                        return base
                    log.info("Fit of %s from file sizes only: %s", details.id, exc)
                except HearthError as exc:
                    log.info("Fit of %s from file sizes only: %s", details.id, exc)
            verdicts = files.fit_verdicts(
                details.files, here, shape=shape, n_ctx_train=details.model.context_length
            )
            projector = files.projector_for(details.projectors)
            items = sources.hub_items(
                details.files,
                shape,
                parameters=details.model.parameters,
                n_ctx_train=details.model.context_length,
                projector_bytes=projector.size_bytes if projector else 0,
            )
            n_ctx_train = (
                shape.n_ctx_train
                if shape is not None and shape.exact
                else details.model.context_length
            )
            return here, verdicts, items, n_ctx_train

        run_task(work, self._on_fits, self._on_fit_failed, self, key="repo")

    @Slot(object)
    def _on_fits(self, answer) -> None:
        if isinstance(answer, str):  # an adapter repo, told by its file's header
            self._show_adapter(answer)
            self.loaded.emit(self.details.id if self.details else "")
            return
        machine, verdicts, items, n_ctx_train = answer
        self.machine = self.machine or machine
        self.files.set_fits(verdicts)
        # The picker keeps its own machine: given this page's probed one, it took it for a
        # machine described by hand and showed no speed figures, a "—" in every row (issue 19).
        self.picker.set_items(items, n_ctx_train)
        self.fits_ready.emit()

    @Slot()
    def _on_picker_ready(self) -> None:
        """The files table follows the picker: fits at its context, the recommended file
        selected, ready for Download."""
        self.files.set_fits({row.key: row.fit.verdict for row in self.picker.model.rows()})
        pick = self.picker.pick
        if pick is None or not pick.key:
            return
        self.select_file(pick.key)

    @Slot(str)
    def select_file(self, name: str) -> None:
        """Select (and scroll to) the file ``name`` in the files table: the quant chosen in
        the picker is the one Download takes (F16 stayed highlighted, issue 19)."""
        row = self.files.row_of(name)
        if row >= 0:
            self.files_table.selectRow(row)
            self.files_table.scrollTo(self.files.index(row, 0))

    @Slot()
    def _sync_picker_actions(self) -> None:
        """Each picker row gets the button its file has in the files table."""
        if self.details is not None and self.details.files:
            self.picker.set_actions(
                {entry.name: self.files.action(row) for row, entry in enumerate(self.details.files)}
            )

    def _show_no_gguf(self, details: ModelDetails) -> None:
        """A repo without GGUF files (the original safetensors weights, say): Hearth cannot
        run it; offer a search for GGUF versions of it instead of an empty quant table."""
        none = not details.files
        self.picker.setVisible(not none)
        self.files_box.setVisible(not none)
        self.no_gguf.setVisible(none)
        if none:
            name = details.id.split("/")[-1]
            self.no_gguf_text.setText(
                f"{details.id} has no GGUF files, the format Hearth runs (it holds the "
                f"original weights). Others often publish GGUF versions of a model: search "
                f"Discover for “{name}”."
            )

    def _show_adapter(self, base: str | None) -> None:
        """An adapter repo (``base`` not None): what it is for in place of the quant picker,
        whose fits and Chat buttons mean nothing for a file that cannot chat."""
        self.adapter_of = base
        adapter = base is not None
        if self.details is not None and self.details.files:
            self.picker.setVisible(not adapter)
        self.adapter_note.setVisible(adapter)
        self.adapter_note.setText(adapter_note(base) if base is not None else "")
        self.files_label.setText(ADAPTER_FILES_LABEL if adapter else FILES_LABEL)
        self.files_table.setColumnHidden(QuantFilesModel.FIT, adapter)
        if base is not None:  # the size and context of a model, not of an adapter
            self.facts["Base model"].setText(base or "Unknown")
            for fact in ("Parameters", "Context"):
                self.facts[fact].setText("—")
            self.files.set_local({})  # "Downloaded", never "Chat": it is no model

    @Slot()
    def _search_gguf(self) -> None:
        """Discover for the repo's name: Discover lists GGUF repos only. (The Hub's ``search``
        matches a substring of the repo id, so "<name> GGUF", with its space, finds nothing.)"""
        if self.details is not None:
            self.search_requested.emit(self.details.id.split("/")[-1])

    @Slot(str)
    def _on_token_saved(self, _message: str) -> None:
        self.token_known = True
        self.token_box.set_asking(False)
        self._sync_download_states()

    @Slot(str)
    def _on_fit_failed(self, message: str) -> None:
        log.warning("Fit estimate failed: %s", message)
        self.picker.clear(f"Hearth could not work out which quants fit: {message}")

    # -- actions ----------------------------------------------------------------------------------

    @Slot(str)
    def file_action(self, name: str) -> None:
        """The button of the file ``name``: chat with it when it is here, else download it."""
        path = self.files.local_path(name)
        if path:
            self.chat_requested.emit(path)
        elif (row := self.files.row_of(name)) >= 0:
            self.download(row)

    def download(self, row: int, projector: bool = False) -> str | None:
        """Queue the file (all its shards) of ``row``; returns the download's key."""
        model = self.projectors if projector else self.files
        entry = model.entry(row)
        if entry is None or self.details is None or self.downloads is None:
            return None
        revision = self.details.sha or "main"
        key = self.downloads.enqueue(self.details.id, entry.name, revision=revision)
        if not projector:
            self._download_projector(revision)
        return key

    def _download_projector(self, revision: str) -> None:
        """A vision model's quant comes with its image projector (one: ``projector_for``),
        unless that file of this revision is already here or on its way."""
        assert self.details is not None and self.downloads is not None
        chosen = files.projector_for(self.details.projectors)
        if chosen is None:
            return
        here = self.downloads.downloader.cached(self.details.id, chosen.name, revision)
        if here is None:
            self.downloads.enqueue(self.details.id, chosen.name, revision=revision)

    @Slot(QModelIndex)
    def _download_clicked(self, index: QModelIndex) -> None:
        entry = self.files.entry(index.row())
        if entry is not None:
            self.file_action(entry.name)

    @Slot(QModelIndex)
    def _projector_clicked(self, index: QModelIndex) -> None:
        self.download(index.row(), projector=True)

    @Slot(str, str)
    def _on_download_state(self, key: str, state: str) -> None:
        self.files.set_state(key, state)
        self.projectors.set_state(key, state)
        if state == "done":
            self._sync_local()

    def _sync_download_states(self) -> None:
        if self.downloads is None:
            reason = "Downloads are not available here"
        elif self.details is not None and self.details.gated and not self.token_known:
            reason = NEEDS_TOKEN
        else:
            reason = ""
        for model in (self.files, self.projectors):
            model.set_disabled(reason)
        if self.downloads is not None:
            for key in self.downloads.model.keys():
                self._on_download_state(key, self.downloads.state(key) or "")

    @Slot()
    def _sync_local(self) -> None:
        """The files of this repo on this computer: in My Models, or just downloaded."""
        if self.details is None or self.adapter_of is not None:  # an adapter is no model
            return
        repo = self.details.id.lower()
        here: dict[str, str] = {}
        for model in self.library.models() if self.library is not None else []:
            if (model.repo_id or "").lower() == repo:
                here[model.path.name] = str(model.path)
        if self.downloads is not None:
            from app.ui.downloads.model import Role

            for key in self.downloads.model.keys():
                path = self.downloads.model.value(key, Role.Path)
                if key.lower().startswith(repo + "/") and path:
                    here[Path(key).name] = str(path)
        self.files.set_local(
            {
                e.name: here[Path(e.name).name]
                for e in self.details.files
                if Path(e.name).name in here
            }
        )

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)
