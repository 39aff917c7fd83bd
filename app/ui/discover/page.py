"""Discover: search the Hugging Face Hub for GGUF models, filter them, open a model's page.

Searching runs off the GUI thread, a page at a time as the list scrolls. A failed or slow
search says so, offers Retry, and leaves the last results usable; those are also saved on disk,
so the page shows them when the Hub cannot be reached.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.common.errors import HearthError
from app.core.common.json_file import Loaded
from app.core.common.paths import default_paths
from app.core.fit.machine_info import MachineInfo
from app.core.hub import fit, saved_search
from app.core.hub.client import HubClient, SearchQuery, parse_repo_ref
from app.core.hub.files import SIZE_BUCKETS, HubModel
from app.core.hub.first_list import FirstListPages
from app.core.hub.saved_search import SavedSearch
from app.ui.common.tasks import LatestWriter, TaskHandle, run_task
from app.ui.discover.model_page import ModelPage
from app.ui.discover.result_delegate import MIN_WIDTH, HubResultDelegate
from app.ui.discover.results_model import HubResultsModel, Role
from app.ui.downloads.manager import DownloadManager

log = logging.getLogger("hearth.ui.discover")

SORT_LABELS = {
    "downloads": "Most downloaded",
    "likes": "Most liked",
    "trending": "Trending",
    "updated": "Recently updated",
}
ARCHITECTURES = (
    "llama",
    "qwen2",
    "qwen3",
    "qwen3moe",
    "gemma2",
    "gemma3",
    "phi3",
    "mistral3",
    "deepseek2",
    "gpt-oss",
    "granite",
    "olmo2",
)
ANY_SIZE, ANY_ARCH = "Any size", "Any architecture"
CACHE_NAME = saved_search.FILE_NAME
SLOW_MS = 8_000
# The automatic first list, when it left out every repo the Hub listed first (a new or quiet
# Hub): what to do next, not "No GGUF models match" before the user typed anything.
FIRST_LIST_EMPTY = "Search for a model by name, e.g. qwen, llama, gemma"


class DiscoverPage(QWidget):
    model_opened = Signal(str)  # a repo's page is shown
    chat_requested = Signal(str)  # a model file already here, from its "Downloaded · Chat"

    def __init__(
        self,
        endpoint: str | None = None,
        downloads: DownloadManager | None = None,
        models_dir: Path | None = None,
        *,
        client: HubClient | None = None,
        machine=None,
        cache_file: Path | None = None,
        page_size: int = 30,
        slow_ms: int = SLOW_MS,
        auto_search: bool = True,
        machine_info: MachineInfo,
        speeds=None,
        library=None,
        comfortable_tok_s: float | None = None,
    ) -> None:
        """``machine`` (a ``fit.Machine``) and ``speeds`` (a ``fit.speed_here.SpeedHere``) fix
        the machine; else ``machine_info`` tells both when "Fits this machine" is first on.
        ``comfortable_tok_s``: the settings' comfortable speed, for the quant picker."""
        super().__init__()
        self.machine_info = machine_info
        self.client = client or HubClient(endpoint)
        self.machine, self.page_size, self.auto_search = machine, page_size, auto_search
        self.speeds = speeds
        self.models_dir = models_dir or default_paths().models_dir
        self.cache_file = cache_file or default_paths().cache_dir / CACHE_NAME
        self._query: SearchQuery | None = None
        self._first: FirstListPages | None = None  # the automatic first search, while shown
        self.cache_io: TaskHandle | None = None  # the saved results being read or written
        self._cache_writer = LatestWriter(self._write_cache, self, "saving the search results")

        self.query = QLineEdit(
            placeholderText="Search GGUF models: words, owner/name, or a Hugging Face link"
        )
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(self.search)
        self.sort = QComboBox()
        for key, label in SORT_LABELS.items():
            self.sort.addItem(label, key)
        self.sort.activated.connect(self.search)
        search = QPushButton("Search", objectName="primary")
        search.clicked.connect(self.search)
        self.size_filter = QComboBox()
        self.size_filter.addItems([ANY_SIZE, *SIZE_BUCKETS])
        self.size_filter.activated.connect(self.search)
        self.architecture = QComboBox()
        self.architecture.addItems([ANY_ARCH, *ARCHITECTURES])
        self.architecture.activated.connect(self.search)
        self.author = QLineEdit(placeholderText="Any author")
        self.author.setMaximumWidth(170)
        self.author.returnPressed.connect(self.search)
        self.fits = QCheckBox("Fits this machine")
        self.fits.setToolTip(
            "Only models whose smallest file fits this computer's memory. Each "
            "badge says what its estimate rests on: the file's header (once "
            "you opened the model), its size, or the parameter count."
        )
        self.fits.toggled.connect(self._fits_toggled)

        self.status = QLabel(objectName="hint", wordWrap=True)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self.retry)
        self.retry_button.hide()
        self.results_model = HubResultsModel(self)
        self.results = QListView()
        self.results.setModel(self.results_model)
        self.results.setItemDelegate(HubResultDelegate(self.results))
        self.results.setUniformItemSizes(True)
        self.results.setHorizontalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )  # rows fit its width
        self.results.setMinimumWidth(MIN_WIDTH)
        self.results.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.clicked.connect(self._open_index)
        self.results_model.results_replaced.connect(self._on_replaced)
        self.results_model.page_loaded.connect(self._on_page)
        self.results_model.failed.connect(self._on_failed)
        self._slow = QTimer(self, singleShot=True, interval=slow_ms)
        self._slow.timeout.connect(self._on_slow)

        self.model_page = ModelPage(
            None,
            downloads,
            self.models_dir,
            client=self.client,
            machine=machine,
            machine_info=self.machine_info,
            library=library,
            comfortable_tok_s=comfortable_tok_s,
        )
        self.model_page.back_requested.connect(self.show_results)
        self.model_page.chat_requested.connect(self.chat_requested)
        self.model_page.search_requested.connect(self.search_for)
        self.model_page.fits_ready.connect(self._on_model_fit)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._results_pane(search))
        self.stack.addWidget(self.model_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._load_cache()

    def _results_pane(self, search: QPushButton) -> QWidget:
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.sort)
        row.addWidget(search)
        filters = QHBoxLayout()
        for widget in (
            QLabel("Filter:"),
            self.size_filter,
            self.architecture,
            self.author,
            self.fits,
        ):
            filters.addWidget(widget)
        filters.addStretch(1)
        status = QHBoxLayout()
        status.addWidget(self.status, 1)
        status.addWidget(self.retry_button)
        pane = QWidget()
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(QLabel("Discover", objectName="pageTitle"))
        layout.addLayout(row)
        layout.addLayout(filters)
        layout.addLayout(status)
        layout.addWidget(self.results, 1)
        return pane

    # -- searching --------------------------------------------------------------------------------

    def current_query(self) -> SearchQuery:
        size, arch = self.size_filter.currentText(), self.architecture.currentText()
        return SearchQuery(
            text=self.query.text().strip(),
            sort=self.sort.currentData(),
            author=self.author.text().strip(),
            architecture="" if arch == ANY_ARCH else arch,
            size="" if size == ANY_SIZE else size,
            machine=self.machine if self.fits.isChecked() else None,
            speeds=self.speeds if self.fits.isChecked() else None,
        )

    @Slot()
    def search(self) -> None:
        """Search with what the boxes say; the current rows stay until the answer comes."""
        self._search(first=False)

    def _search(self, first: bool) -> None:
        """``first``: the automatic first search, with ``first_list`` applied to its pages."""
        if self.fits.isChecked() and self.machine is None:
            self._probe_machine()
            return
        query = self.current_query()
        try:
            pages = self.client.search(query, self.page_size)
        except HearthError as exc:
            self._show_problem(str(exc), retry=False)
            return
        self._query = query
        self._first = FirstListPages(pages) if first else None
        self.retry_button.hide()
        self._set_status("Searching the Hugging Face Hub...")
        self.results_model.search(self._first or pages)
        self._slow.start()

    @Slot(str)
    def search_for(self, text: str) -> None:
        """Search for ``text`` and show the results (the model page's "Search for GGUF
        versions")."""
        self.query.setText(text)
        self.show_results()
        self.search()

    @Slot()
    def retry(self) -> None:
        if self.results_model.is_loading():  # slow: ask again from scratch
            self._search(first=self._first is not None)
            return
        self.retry_button.hide()
        self._set_status("Trying again...")
        self.results_model.retry()
        self._slow.start()

    @Slot()
    def _on_replaced(self) -> None:
        models = self.results_model.models()
        ref = parse_repo_ref(self._query.text, self.client.endpoint) if self._query else None
        if ref and len(models) == 1 and models[0].id.lower() == ref.lower():
            self.open_model(models[0].id)

    @Slot(int)
    def _on_page(self, _added: int) -> None:
        self._slow.stop()
        count = self.results_model.rowCount()
        more = self.results_model.canFetchMore(QModelIndex())
        if count:
            self._set_status(
                f"{count} model{'s' if count != 1 else ''}"
                + (" — scroll down for more" if more else "")
                + self._left_out()
            )
        elif self._first is not None:  # nothing typed yet: "no match" would be untrue
            self._set_status(FIRST_LIST_EMPTY + (self._left_out() or "."))
        elif more:
            self._set_status(
                "No match among the Hub's first models for these filters. Add "
                "words or an author to narrow the search."
            )
        else:
            self._set_status("No GGUF models match. Try other words or filters.")
        self._add_architectures(self.results_model.models())
        self._save_cache()

    def _left_out(self) -> str:
        """What the automatic first list left out, in one sentence ("" for a user's search)."""
        first = self._first
        if first is None or not (first.gated_left_out or first.junk_left_out):
            return ""
        parts = []
        if first.gated_left_out:
            parts.append("gated models (they need an access request to download)")
        if first.junk_left_out:
            parts.append("test and little-used repos")
        return f". This first list leaves out {' and '.join(parts)}: search to see every model."

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._slow.stop()
        kept = " The results below are from before." if self.results_model.rowCount() else ""
        self._show_problem(message + kept)

    @Slot()
    def _on_slow(self) -> None:
        if self.results_model.is_loading():
            self._show_problem("The Hub is slow to answer. Keep waiting, or retry.")

    def _show_problem(self, message: str, retry: bool = True) -> None:
        self._set_status(message, "error")
        self.retry_button.setVisible(retry)

    def _set_status(self, text: str, kind: str = "hint") -> None:
        self.status.setText(text)
        if self.status.objectName() != kind:
            self.status.setObjectName(kind)
            self.status.style().unpolish(self.status)
            self.status.style().polish(self.status)

    # -- fits this machine ------------------------------------------------------------------------

    @Slot(bool)
    def _fits_toggled(self, _on: bool) -> None:
        self.search()

    def _probe_machine(self) -> None:
        self._set_status("Checking this machine's memory...")
        info = self.machine_info
        run_task(
            lambda: (info.machine(), info.speeds()), self._on_machine, self._on_probe_failed, self
        )

    @Slot(object)
    def _on_machine(self, answer) -> None:
        machine, self.speeds = answer
        self.machine = self.model_page.machine = machine
        self.search()

    @Slot(str)
    def _on_probe_failed(self, message: str) -> None:
        self.fits.setChecked(False)
        self._show_problem(f"Could not check this machine's memory: {message}", retry=False)

    # -- the model page ---------------------------------------------------------------------------

    @Slot(QModelIndex)
    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_model(index.data(Role.Id))

    def open_model(self, repo_id: str) -> None:
        self.model_page.show_repo(repo_id)
        self.stack.setCurrentWidget(self.model_page)
        self.model_opened.emit(repo_id)

    @Slot()
    def _on_model_fit(self) -> None:
        """The model page read a file header: its row's badge now rests on it."""
        details, query = self.model_page.details, self._query
        shape = self.client.known_shape(details.id) if details is not None else None
        if details is None or shape is None or query is None or query.machine is None:
            return
        row = next((m for m in self.results_model.models() if m.id == details.id), None)
        if row is not None:
            badge = fit.estimate(row, query.machine, shape, query.speeds)
            self.results_model.set_fit(row.id, badge)

    @Slot()
    def show_results(self) -> None:
        self.stack.setCurrentIndex(0)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._auto_search()

    def _auto_search(self) -> None:
        """The most downloaded GGUF models a newcomer can download and chat with, to start
        from (``hub.first_list``: no gated or junk repos): once the saved results are read
        (they are shown instead, when there are some)."""
        reading = self.cache_io is not None and not self.cache_io.ended
        if (
            self.auto_search
            and self.isVisible()
            and not reading
            and self._query is None
            and not self.results_model.rowCount()
        ):
            self._search(first=True)

    # -- results kept for offline use -------------------------------------------------------------

    def _save_cache(self) -> None:
        """Write the results on the thread pool (the newest last)."""
        query = self._query or SearchQuery()
        fields = {
            "text": query.text,
            "sort": query.sort,
            "author": query.author,
            "architecture": query.architecture,
            "size": query.size,
        }
        self.cache_io = self._cache_writer.write((fields, self.results_model.models()))

    def _write_cache(self, saved: tuple[dict[str, str], list[HubModel]]) -> None:
        try:
            saved_search.save(self.cache_file, *saved)
        except OSError as exc:
            log.warning("Could not save the search results: %s", exc)

    def _load_cache(self) -> None:
        """Read the last search's results on the thread pool (a large file takes a while)."""
        path = self.cache_file
        self.cache_io = run_task(
            lambda: saved_search.load(path),
            self._on_cache,
            self._on_cache_failed,
            self,
            key="saved results",
            name="reading the saved search results",
        )

    @Slot(str)
    def _on_cache_failed(self, message: str) -> None:
        self._set_status(message)
        self._auto_search()

    @Slot(object)
    def _on_cache(self, loaded: Loaded[SavedSearch | None]) -> None:
        saved = loaded.value
        if self._query is not None:  # the user searched meanwhile: that search's rows win
            return
        if saved is None:
            if loaded.message:
                self._set_status(loaded.message)
            self._auto_search()
            return
        query, models = saved.query, list(saved.models)
        self.query.setText(query.get("text", ""))
        self.sort.setCurrentIndex(max(0, self.sort.findData(query.get("sort"))))
        self.author.setText(query.get("author", ""))
        self.size_filter.setCurrentText(query.get("size") or ANY_SIZE)
        self._add_architectures(models)
        self.architecture.setCurrentText(query.get("architecture") or ANY_ARCH)
        self.results_model.show_models(models)
        when = f"{saved.saved_at:%d %b %Y at %H:%M}" if saved.saved_at else "earlier"
        self._set_status(
            f"Showing the results of your last search, saved {when}. Search "
            "again to refresh them." + (f" {loaded.message}" if loaded.message else "")
        )

    def _add_architectures(self, models: list[HubModel]) -> None:
        for arch in sorted({m.architecture for m in models if m.architecture}):
            if self.architecture.findText(arch) < 0:
                self.architecture.addItem(arch)
