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


class StarterModelError(HearthError):
    """The bundled starter model could not be installed or found."""


class ModelNotFound(HearthError):
    """A model name or path given by the user matches nothing local."""


class ChatStoreError(HearthError):
    """The chat history could not be read or written (damaged file, disk full, busy...)."""


class HubError(HearthError):
    """The Hugging Face Hub could not answer (offline, server error, bad request)."""
