"""What a GGUF file's header says: architecture, size, context length, quant, chat template.

Read with the ``gguf`` package (the reference reader from llama.cpp's repository).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core import quants
from app.core.errors import ModelFileError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class GgufInfo:
    path: Path
    architecture: str
    name: str
    quant: str | None
    parameters: int
    context_length: int | None
    block_count: int | None
    chat_template: str | None
    size_bytes: int


def check_magic(path: Path) -> None:
    """Refuse, with a plain message, what is missing or plainly not a GGUF file."""
    if not path.exists():
        raise ModelFileError(f"The model file {path} does not exist.")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a file.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise ModelFileError(f"The model file {path} cannot be read: {exc.strerror}.") from exc
    if head != GGUF_MAGIC:
        raise ModelFileError(
            f"{path.name} is not a GGUF model file (it does not start with 'GGUF')."
        )


def read_info(path: Path) -> GgufInfo:
    """Read the header of a GGUF file. Raises ``ModelFileError`` for anything unreadable."""
    from gguf import GGUFReader

    path = Path(path)
    check_magic(path)
    try:
        reader = GGUFReader(path)
    except (ValueError, OSError, IndexError, KeyError) as exc:
        raise ModelFileError(
            f"{path.name} is damaged or incomplete: it could not be read as a GGUF model "
            f"({exc}). If it was downloaded, download it again.") from exc

    def value(key: str):
        field = reader.fields.get(key)
        return None if field is None else field.contents()

    arch = value("general.architecture") or "unknown"
    file_type = value("general.file_type")
    quant = quants.quant_from_file_type(file_type) or quants.quant_from_name(path.name)
    return GgufInfo(
        path=path,
        architecture=str(arch),
        name=str(value("general.name") or path.stem),
        quant=quant,
        parameters=int(sum(int(t.n_elements) for t in reader.tensors)),
        context_length=_int(value(f"{arch}.context_length")),
        block_count=_int(value(f"{arch}.block_count")),
        chat_template=value("tokenizer.chat_template"),
        size_bytes=path.stat().st_size,
    )


def _int(raw) -> int | None:
    return None if raw is None else int(raw)
