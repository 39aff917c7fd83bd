"""Local models named as a person reads them: name · quant, the repo or folder where two would
read the same (issue 19: the Chat picker cut the quant off and showed two files alike)."""

from pathlib import Path

from app.core.library.catalog import LocalModel
from app.core.library.names import base_name, labels

SNAPSHOT = Path("/hf/hub/models--bartowski--SmolLM2-135M-Instruct-GGUF/snapshots/0123abcd")


def model(name, path, source, quant="Q4_1", repo_id=None) -> LocalModel:
    return LocalModel(
        name=name, path=Path(path), quant=quant, size_bytes=1, source=source, repo_id=repo_id
    )


STARTER = model(
    "SmolLM2-135M-Instruct.Q4_1", "/h/models/SmolLM2-135M-Instruct.Q4_1.gguf", "starter"
)
CACHED = model(
    "bartowski/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf",
    SNAPSHOT / "SmolLM2-135M-Instruct-Q4_1.gguf",
    "hf-cache",
    repo_id="bartowski/SmolLM2-135M-Instruct-GGUF",
)


def test_the_quant_comes_right_after_the_name() -> None:
    assert labels([CACHED]) == ["SmolLM2-135M-Instruct · Q4_1"]
    assert base_name(CACHED) == "SmolLM2-135M-Instruct"
    split = model(
        "x/Big-Q8_0-00001-of-00003.gguf", "/m/Big-Q8_0-00001-of-00003.gguf", "hf-cache", "Q8_0"
    )
    assert labels([split]) == ["Big · Q8_0"]


def test_two_files_that_would_read_the_same_say_where_they_come_from() -> None:
    assert labels([STARTER, CACHED]) == [
        "SmolLM2-135M-Instruct · Q4_1 · starter model",
        "SmolLM2-135M-Instruct · Q4_1 · bartowski/SmolLM2-135M-Instruct-GGUF",
    ]
    one = model("a/Smol-Q4_1", "/a/Smol-Q4_1.gguf", "folder")
    other = model("b/Smol-Q4_1", "/b/x/Smol-Q4_1.gguf", "folder")
    same_folder_name = model("c/Smol-Q4_1", "/c/x/Smol-Q4_1.gguf", "folder")
    assert labels([one, other, same_folder_name]) == [
        "Smol · Q4_1 · a",
        "Smol · Q4_1 · x · /b/x",
        "Smol · Q4_1 · x · /c/x",
    ]


def test_a_model_without_a_quant_and_ollamas_names() -> None:
    plain = model("mine", "/m/mine.gguf", "folder", quant=None)
    ollama = model("llama3.2:1b", "/o/blobs/sha256-ab", "ollama", quant=None)
    assert labels([plain, ollama]) == ["mine", "llama3.2:1b"]
