"""Typed errors whose message a non-programmer can act on.

Core code raises these; the front ends (GUI, CLI) show ``str(error)`` as it is.
"""


class HearthError(Exception):
    """Base of every error Hearth reports to the user."""


class ModelFileError(HearthError):
    """A model file is missing, unreadable, or not a usable GGUF."""


class ModelLoadError(HearthError):
    """llama.cpp could not load a model (unsupported, out of memory...)."""


class GenerationError(HearthError):
    """Generation failed part-way."""


class UnsupportedRequest(GenerationError):
    """A generation asks for something this model cannot do as asked (a JSON schema that
    cannot become a grammar, a token id past its vocabulary): the asker's to change."""


class UnreadableImage(UnsupportedRequest):
    """An image in a chat that passed its header check but could not be decoded (its
    compressed data damaged): the API answers it as an invalid ``image_url``."""


class ModelCrashed(GenerationError):
    """The process that ran a model died or hung (llama.cpp aborted, crashed, or the system
    killed it); Hearth itself is fine, and another model can be loaded at once."""


class StarterModelError(HearthError):
    """The bundled starter model could not be installed or found."""


class ModelNotFound(HearthError):
    """A model name or path given by the user matches nothing local."""


class ChatStoreError(HearthError):
    """The chat history could not be read or written (damaged file, disk full, busy...)."""


class HubError(HearthError):
    """The Hugging Face Hub could not answer (offline, server error, bad request)."""


class LoadCancelled(HearthError):
    """The user cancelled loading a model."""


class ContextFullError(HearthError):
    """The conversation no longer fits in the model's context window."""

    def __init__(self, used: int, limit: int) -> None:
        super().__init__(
            f"This chat needs {used:,} tokens but the model's context holds {limit:,}. "
            "Drop the oldest turns, start a new chat, or load the model with a longer context."
        )
        self.used = used
        self.limit = limit


class DownloadError(HearthError):
    """A model download failed (network, Hub refusal, disk); its partial file is kept to resume."""


class DownloadCancelled(DownloadError):
    """A download was paused or cancelled on request; its partial file is kept until discarded."""


class ChecksumMismatch(DownloadError):
    """Downloaded bytes do not match the sha256 the Hub publishes; the bad file was deleted."""


class GatedModelError(DownloadError):
    """The repo is gated: the user needs a Hub token with access to it."""


class NotEnoughSpace(DownloadError):
    """Not enough free disk space for what remains to download."""


class UnsafeFileName(DownloadError):
    """A file name from the Hub would escape the target folder; it was refused."""


class MeasureError(HearthError):
    """Files could not be compared (fewer than two, different models, text too short...)."""


class MeasureCancelled(MeasureError):
    """The user cancelled a measurement; results finished before the cancel are kept."""


class QuantizeError(HearthError):
    """A quant could not be made (unsupported type, quantizer failed, disk full...)."""


class QuantizeCancelled(QuantizeError):
    """The user cancelled making a quant; the partial file was removed."""


class ArenaError(HearthError):
    """The blind arena's votes could not be read or written."""


class HubUnavailable(HubError):
    """The Hub could not be reached, or answered with a temporary error: retrying may work."""


class HubRepoNotFound(HubError):
    """No model repo by that name on the Hub (or it is private and the token cannot see it)."""


class LibraryError(HearthError):
    """A local model could not be deleted or removed from the library."""


class SettingsError(HearthError):
    """Hearth's settings could not be saved."""


class ServerError(HearthError):
    """Hearth's local API server could not start (port in use, address not available...)."""


class RemoteError(HearthError):
    """A remote (OpenAI-compatible) server could not be reached or refused a request."""


class RemoteAuthError(RemoteError):
    """A remote server refused the connection's API key (missing, wrong or expired)."""


class RemoteContextFull(ContextFullError, RemoteError):
    """A remote server refused the chat as longer than its context; ``prompt_tokens`` is its
    count of the chat's tokens (``used`` adds the answer's tokens asked for, when it says)."""

    def __init__(self, used: int, limit: int, prompt_tokens: int) -> None:
        super().__init__(used, limit)
        self.prompt_tokens = prompt_tokens


class InvalidModelFile(ModelFileError):
    """A GGUF file failed Hearth's own check before llama.cpp saw it (damaged, malformed, or a
    chat template that is unsafe or broken)."""
