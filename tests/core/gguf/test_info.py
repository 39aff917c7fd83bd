import pytest

from app.core.common.errors import ModelFileError
from app.core.gguf.info import read_info


def test_reads_the_starter_header(starter_gguf):
    info = read_info(starter_gguf)
    assert info.architecture == "llama"
    assert info.quant == "Q4_1"
    assert info.context_length == 8192
    assert info.block_count == 30
    assert 130e6 < info.parameters < 140e6
    assert "im_start" in info.chat_template


def test_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        read_info(tmp_path / "nope.gguf")
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        read_info(text)


def test_truncated_file_is_reported(starter_gguf, tmp_path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(starter_gguf.read_bytes()[:4096])
    with pytest.raises(ModelFileError, match="damaged or cut short"):
        read_info(cut)
