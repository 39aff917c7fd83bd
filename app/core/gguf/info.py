"""What a GGUF file's header says: architecture, size, context length, quant, chat template.

Read with ``app.core.gguf.header``'s header parser: only the header, in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.common.errors import ModelFileError
from app.core.gguf import quant_types

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
    from app.core.gguf.header import read_local_header

    path = Path(path)
    check_magic(path)
    header = read_local_header(path)
    arch = header.architecture
    template = header.get("tokenizer.chat_template")
    return GgufInfo(
        path=path,
        architecture=arch,
        name=str(header.get("general.name") or path.stem),
        quant=quant_types.quant_from_file_type(header.file_type)
        or quant_types.quant_from_name(path.name),
        parameters=header.parameters,
        context_length=_int(header.get(f"{arch}.context_length")),
        block_count=_int(header.get(f"{arch}.block_count")),
        chat_template=template if isinstance(template, str) else None,
        size_bytes=path.stat().st_size,
    )


def _int(raw: object) -> int | None:
    return raw if type(raw) is int else None
