"""What a user can chat with: a local GGUF file, or a model on a saved remote connection.

``ModelChoice`` is the one value the Chat picker (and the Compare page) pass around. Listing the
choices is plain Python: ``local_choices`` from the library, ``list_remote`` per connection
(blocking: run it off the GUI thread), ``list_choices`` for both at once. A remote choice gives
its backend with ``choice.backend()``; a local one is loaded with ``Engine.load(choice.path)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import PurePath

from app.core.common.errors import HearthError
from app.core.inference.remote import (
    TIMEOUT_S,
    Connection,
    ConnectionStore,
    RemoteBackend,
    list_models,
)
from app.core.library import names
from app.core.library.catalog import LocalModel

REMOTE_PREFIX = "remote:"  # a remote choice's key: remote:<connection name>:<model id>
PROBE_TIMEOUT_S = 10.0  # listing models: a server that is up answers at once


@dataclass(frozen=True)
class ModelChoice:
    """One entry of a model picker. ``connection`` keeps its API key out of ``repr``."""

    kind: str  # "local" or "remote"
    label: str  # what the user sees: "SmolLM2 ..." or "Connection · model"
    path: str = ""  # local: the GGUF file
    connection: Connection | None = None  # remote: the saved server
    model: str = ""  # remote: the model id the server lists
    lora_path: str = ""  # local: a LoRA adapter applied to it (Compare's columns), at lora_scale
    lora_scale: float = 1.0

    @property
    def is_remote(self) -> bool:
        return self.kind == "remote"

    @property
    def key(self) -> str:
        """A stable id, for settings and for finding the choice again after a refresh. The
        same model with an adapter (or at another strength) is another choice."""
        if self.is_remote and self.connection is not None:
            return f"{REMOTE_PREFIX}{self.connection.name}:{self.model}"
        if self.lora_path:
            return f"{self.path}+lora:{self.lora_path}@{self.lora_scale:g}"
        return self.path

    def with_adapter(self, path: str, scale: float = 1.0) -> ModelChoice:
        """This local model with the LoRA adapter at ``path`` applied at ``scale``, labelled
        "model + adapter-name (strength)"; ``path`` "" gives the model alone."""
        base = replace(self, lora_path="", lora_scale=1.0, label=self.base_label)
        if not path:
            return base
        return replace(
            base, lora_path=path, lora_scale=scale, label=base.label + adapter_suffix(path, scale)
        )

    @property
    def base_label(self) -> str:
        """The label without the adapter's part."""
        suffix = adapter_suffix(self.lora_path, self.lora_scale) if self.lora_path else ""
        return self.label.removesuffix(suffix)

    def backend(self, timeout: float = TIMEOUT_S) -> RemoteBackend:
        """The backend that answers for a remote choice (``chat``, ``request_stop``...)."""
        if not self.is_remote or self.connection is None:
            raise ValueError("a local model is loaded with Engine.load(choice.path)")
        return RemoteBackend(self.connection, self.model, timeout=timeout)


def adapter_suffix(path: str, scale: float) -> str:
    """The label's part for an adapter, " + name (strength)": the file's name without
    ``.gguf``, the strength as the strength slider shows it."""
    return f" + {PurePath(path).name.removesuffix('.gguf')} ({scale:.2f})"


@dataclass(frozen=True)
class ConnectionModels:
    """The result of listing one connection: its choices, or why there are none."""

    connection: Connection
    choices: tuple[ModelChoice, ...] = ()
    error: str = ""


def short_model_name(model_id: str) -> str:
    """Servers like llama.cpp's list a model by its file path: show the file's name."""
    if model_id.startswith("/") or "\\" in model_id or model_id.lower().endswith(".gguf"):
        return PurePath(model_id.replace("\\", "/")).name or model_id
    return model_id


def local_choice(model: LocalModel) -> ModelChoice:
    return local_choices([model])[0]


def remote_choice(connection: Connection, model_id: str) -> ModelChoice:
    return ModelChoice(
        "remote",
        f"{connection.name} · {short_model_name(model_id)}",
        connection=connection,
        model=model_id,
    )


def local_choices(models: Iterable[LocalModel]) -> list[ModelChoice]:
    """The local models as choices, each labelled ``name · quant`` (with its repo or folder
    where two would read the same: ``library.names``)."""
    models = list(models)
    return [
        ModelChoice("local", label, path=str(m.path))
        for m, label in zip(models, names.labels(models), strict=True)
    ]


def list_remote(connection: Connection, timeout: float = PROBE_TIMEOUT_S) -> ConnectionModels:
    """Ask one server for its models. Blocking; never raises for a server that is down."""
    try:
        ids = list_models(connection, timeout)
    except HearthError as exc:
        return ConnectionModels(connection, error=str(exc))
    return ConnectionModels(connection, tuple(remote_choice(connection, i) for i in ids))


def list_choices(
    models: Iterable[LocalModel],
    store: ConnectionStore | None = None,
    timeout: float = PROBE_TIMEOUT_S,
) -> tuple[list[ModelChoice], list[str]]:
    """Local choices, then every connection's models; and the message of each server that
    could not be listed. Blocking (one request per connection)."""
    choices, problems = local_choices(models), []
    for connection in (store or ConnectionStore()).connections():
        listed = list_remote(connection, timeout)
        choices.extend(listed.choices)
        if listed.error:
            problems.append(listed.error)
    return choices, problems
