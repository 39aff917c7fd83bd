"""The Chat page's model control: which model the chat answers with, and loading it.

Owns the picker (local files and each connection's remote models), the load status line, the
load progress bar with its cancel button and the Settings toggle. It loads a local model with
its saved load settings, switches to a remote model once its server answers, shows the settings
panel's load settings only for local models, and opens the connections manager.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QWidget

from app.core.config import presets
from app.core.config.presets import ModelSettings
from app.core.config.settings import Settings
from app.core.inference.model_choice import REMOTE_PREFIX, ModelChoice
from app.core.inference.remote import ConnectionStore
from app.core.inference.types import LoadedModel, LoadOptions
from app.core.library.projector import find_projector
from app.ui.chat.connections_dialog import ConnectionsDialog
from app.ui.chat.figures import FiguresLine
from app.ui.chat.model_picker import ModelPicker
from app.ui.chat.settings_panel import ChatSettingsPanel
from app.ui.common.banner import show_error
from app.ui.my_models.library_model import LibraryModel
from app.ui.session.session import ChatSession

LOADING = "Loading..."


def drafting_said(model: LoadedModel) -> tuple[str, str]:
    """What drafting's Auto chose at load, for the status line (" · drafting on (auto)"), and
    why, for its tooltip; ("", "") where the Drafting setting was not Auto. Auto decides by
    measuring this computer, so the user cannot tell its choice from the setting."""
    if not model.draft_auto_reason:
        return "", ""
    state = "on" if model.draft_tokens > 0 else "off"
    return (
        f" · drafting\u00a0{state}\u00a0(auto)",  # wrapped whole, not "drafting / off (auto)"
        f"Drafting (auto) is {state}: {model.draft_auto_reason}. "
        "Settings > Drafting turns it on or off for this model.",
    )


class ChatModelControl(QObject):
    defaults_saved = Signal()  # a model's defaults changed: write the settings file now

    def __init__(
        self,
        session: ChatSession,
        library: LibraryModel,
        settings: Settings,
        connections: ConnectionStore,
        panel: ChatSettingsPanel,
        figures: FiguresLine,
        system_prompt: Callable[[], str],
        view: QWidget,
    ) -> None:
        """``figures`` is the page's figures line (its context meter follows the model);
        ``system_prompt`` gives the open chat's prompt; ``view`` is the page (errors and the
        connections dialog go to its window)."""
        super().__init__(view)
        self.session, self.settings, self.connections = session, settings, connections
        self.panel, self.figures, self.view = panel, figures, view
        self._system_prompt = system_prompt
        self.connections_dialog: ConnectionsDialog | None = None
        self._wanted_path = settings.last_model
        self._restoring = False  # using the remembered remote model at start
        self._fallback_note = ""  # why the chat did not reopen with that remote model
        self._active_status = ("", "")  # the model in use's status line and its tooltip
        self._projector = ""  # the image projector loaded (or loading) with the model

        self.library = library
        self.picker = ModelPicker(library, connections)
        # Narrow enough for Chat with its settings open in a 1024-px window (issue 19: 320 here
        # and an unwrapped status line made the window 1417 px wide); long names are elided.
        self.picker.setMinimumWidth(220)
        self.settings_button = QPushButton("Settings")
        self.settings_button.setCheckable(True)
        self.settings_button.setChecked(False)
        # The page shows the panel (and makes room for it): ChatPage.show_settings.
        self.status = QLabel(LOADING, objectName="hint", wordWrap=True)  # until scanned
        self.load_bar = QProgressBar(maximum=100, textVisible=False)
        self.load_bar.setFixedWidth(160)
        self.cancel_load_button = QPushButton("Cancel loading")
        self.cancel_load_button.clicked.connect(session.cancel_load)
        for widget in (self.load_bar, self.cancel_load_button):
            widget.hide()

        panel.reload_requested.connect(self.reload_model)
        panel.save_default_requested.connect(self.save_model_defaults)
        self.picker.choices_changed.connect(self._on_library_changed)
        self.picker.chosen.connect(self._on_model_chosen)
        self.picker.manage_requested.connect(self.open_connections)
        self.picker.remote_failed.connect(self._show_error)
        session.remote_ready.connect(self._on_remote_ready)
        session.remote_failed.connect(self._on_remote_failed)
        session.load_progress.connect(self._on_load_progress)
        session.loaded.connect(self._on_loaded)
        session.load_failed.connect(self._on_load_failed)
        session.model_lost.connect(self._on_model_lost)

    def current_model_path(self) -> str:
        """The file of the local model chosen in the picker ("" for a remote one)."""
        choice = self.picker.current_choice()
        return choice.path if choice is not None and not choice.is_remote else ""

    def current_model_key(self) -> str:
        """The chosen model's key: a local file's path, or "remote:<connection>:<model>"."""
        choice = self.picker.current_choice()
        return choice.key if choice is not None else ""

    def active_model_key(self) -> str:
        """The key of the model the chat answers with now ("" when none)."""
        if self.session.remote is not None:
            return self.session.remote.key
        return str(self.session.model.path) if self.session.model else ""

    def has_model(self) -> bool:
        return self.session.model is not None or self.session.remote is not None

    def why_no_model(self) -> str:
        """What Send says without a model. Sent while the library was still being scanned or
        the starter loading, "choose one above" (over an empty picker) read as broken."""
        if not self.library.scanned or self.session.loading:
            return "The model is still loading: send your message again in a moment."
        return "No model is loaded yet: choose one above."

    def model_settings(self, path: str | None = None) -> ModelSettings:
        path = path or self.current_model_key()
        saved = self.settings.model_settings.get(path)
        if saved is not None:
            return ModelSettings.from_json(saved)
        s = self.settings  # a model never set up: the settings file's
        return ModelSettings(sampling=s.sampling, n_ctx=s.n_ctx, n_threads=s.n_threads)

    def select_model(self, path: str) -> None:
        self._wanted_path = path
        if self.picker.select_key(path):
            self._load(path)

    @Slot()
    def _on_library_changed(self) -> None:
        """Keep the model in use chosen; else the remembered one (a remote one once its server
        has listed it); else the first (starter)."""
        active = self.active_model_key()
        if active and self.picker.select_key(active):
            return
        if not active and not self.session.busy and self._restore_remote():
            return
        if self.picker.choices.local_count() == 0:
            if not self.library.scanned:  # the first scan is still running: no verdict yet
                self._say(LOADING)
            elif not active and not self.session.busy:
                self._say(
                    "No local model yet: run 'hearth setup', download "
                    "one in Discover, or choose a remote model."
                )
            return
        if not self.picker.select_key(self._wanted_path):
            self.picker.setCurrentIndex(0)
        if not active and not self.session.busy and self.current_model_path():
            self._load(self.current_model_path())

    def _restore_remote(self) -> bool:
        """When the chat last used a remote model: use it once its server lists it, waiting
        while the servers are being listed. False: go on with a local model."""
        wanted = self._wanted_path
        if not wanted.startswith(REMOTE_PREFIX):
            return False
        if self.picker.select_key(wanted) and (choice := self.picker.current_choice()):
            self._restoring = True
            self.use_remote(choice)
            return True
        if self.picker.listing > 0:
            self._say("Waiting for the saved servers to list their models...")
            return True
        self._give_up_remote()
        return False

    def _give_up_remote(self) -> None:
        connection = self._wanted_path[len(REMOTE_PREFIX) :].split(":", 1)[0]
        self._fallback_note = (
            f" · {connection} is not available now, so the chat uses this local model"
        )
        self._wanted_path = ""

    @Slot(object)
    def _on_model_chosen(self, choice: ModelChoice) -> None:
        if choice.is_remote:
            self.use_remote(choice)
        elif choice.key != self.active_model_key():
            self._load(choice.path)

    @Slot()
    def reload_model(self) -> None:
        self._store_model_settings(self.panel.settings())
        if self.current_model_path():
            self._load(self.current_model_path())

    def use_remote(self, choice: ModelChoice) -> None:
        """Chat with a model on a saved connection (the server is asked first)."""
        if self.session.busy:
            self.session.stop()
        self.panel.show_settings(self.model_settings(choice.key), self._system_prompt())
        server = choice.connection.name if choice.connection else choice.label
        self._say(f"Connecting to {server}...")
        self._wanted_path = choice.key
        self.picker.setCurrentIndex(self.picker.choices.row_of(choice.key))
        self.session.use_remote(choice)

    @Slot(object)
    def _on_remote_ready(self, choice: ModelChoice) -> None:
        self._restoring = False
        self.settings.last_model = choice.key
        self.picker.set_active(choice.key)
        self.panel.set_remote(True)
        server = choice.connection.base_url if choice.connection else "its server"
        self._say(f"{choice.label} · on {server}")
        self._active_status = (self.status.text(), "")
        self.figures.hide_context()

    @Slot(str)
    def _on_remote_failed(self, message: str) -> None:
        self.picker.set_active(self.active_model_key())
        text, why = self._active_status
        self._say(text or "No model loaded", why)
        if self._restoring:  # at start: the chat falls back to a local model, and says so
            self._restoring = False
            self._give_up_remote()
            self._on_library_changed()
            return
        self._show_error(message)

    @Slot()
    def open_connections(self) -> ConnectionsDialog:
        """The connections manager; the picker lists the servers again when it changes them."""
        if self.connections_dialog is None:
            self.connections_dialog = ConnectionsDialog(self.connections, self.view)
            self.connections_dialog.changed.connect(self.picker.refresh_remote)
        self.connections_dialog.reload()
        self.connections_dialog.open()
        return self.connections_dialog

    def _say(self, text: str, why: str = "") -> None:
        """The status line, and its tooltip: why the model runs as it does ("" for none)."""
        self.status.setText(text)
        self.status.setToolTip(why)

    @Slot(str)
    def _show_error(self, message: str) -> None:
        show_error(self.view, message)

    @Slot()
    def save_model_defaults(self) -> None:
        self._store_model_settings(self.panel.settings())
        self.defaults_saved.emit()
        self._say("Saved as this model's defaults.")

    def _store_model_settings(self, chosen: ModelSettings) -> None:
        """Remember ``chosen`` for the current model (written with the settings file)."""
        self.settings.model_settings[self.current_model_key()] = chosen.to_json()

    def _load(self, path: str, with_projector: bool = True) -> None:
        """Load ``path`` with its saved settings and, when one lies beside it, its image
        projector (``app.core.library.projector``): the chat then takes images."""
        if self.session.busy:
            self.session.stop()
        self._wanted_path = path
        projector = find_projector(Path(path)) if with_projector else None
        self._projector = projector.name if projector else ""
        chosen = self.model_settings(path)
        self.panel.show_settings(chosen, self._system_prompt())
        self._say(f"Loading {Path(path).name}...")
        self.load_bar.setValue(0)
        self.load_bar.show()
        self.cancel_load_button.show()
        self.session.load(
            Path(path),
            LoadOptions(
                n_ctx=chosen.n_ctx,
                n_gpu_layers=presets.gpu_layer_count(chosen.gpu_layers),
                n_threads=chosen.n_threads,
                flash_attn=chosen.flash_attn,
                kv_type=chosen.kv_type,
                draft_tokens=chosen.draft_tokens,
                draft_model_path=chosen.draft_model_path,
                lora_path=chosen.lora_path,
                lora_scale=chosen.lora_scale,
                mmproj_path=str(projector or ""),
            ),
        )

    @Slot(float)
    def _on_load_progress(self, value: float) -> None:
        self.load_bar.setValue(int(value * 100))

    @Slot(object)
    def _on_loaded(self, model: LoadedModel) -> None:
        self.load_bar.hide()
        self.cancel_load_button.hide()
        self.settings.last_model = str(model.path)
        self.picker.set_active(str(model.path))
        self.panel.set_remote(False)
        note = (
            ""
            if model.has_chat_template
            else (" · this file has no chat template: using the generic ChatML format")
        )
        fit = f" · {model.fit_verdict}" if model.fit_verdict else ""
        sees = f" · sees images ({self._projector})" if model.has_vision else ""
        drafting, why = drafting_said(model)
        self._say(
            f"{model.path.name} · loaded in {model.load_seconds:.1f} s · "
            f"context {model.n_ctx:,} tokens{sees}{drafting}{fit}{note}{self._fallback_note}",
            why,
        )
        self._fallback_note = ""
        self._active_status = (self.status.text(), why)
        self.figures.show_context(model.n_ctx)

    @Slot(str)
    def _on_model_lost(self, _message: str) -> None:
        """The model's process died (the message was shown with the failed answer): the chat
        stays, and the same model is loaded again in a fresh process, so the user can go on
        (when the file itself is the problem, loading it says so)."""
        path = self.current_model_path()
        if not path:
            self._say("The model stopped: choose one above.")
            self.picker.set_active("")
            return
        self._load(path)
        self._say(f"{Path(path).name} stopped; loading it again...")

    @Slot(str, bool)
    def _on_load_failed(self, message: str, cancelled: bool) -> None:
        projector, self._projector = self._projector, ""
        path = self.current_model_path()
        # The projector refused (its name is in the message): the model may still work, for text.
        if projector and projector in message and not cancelled and path:
            show_error(self.view, f"{message} {Path(path).name} is loaded without it: text only.")
            self._load(path, with_projector=False)
            return
        self.load_bar.hide()
        self.cancel_load_button.hide()
        self._say("Loading cancelled: no model loaded." if cancelled else "No model loaded")
        self.picker.set_active("")
        self._active_status = ("", "")
        if not cancelled:
            show_error(self.view, message)
