"""The studio's log file opened after its first paint: nothing logged before is lost."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.common.logs import attach_log_file, setup_logging


@pytest.fixture
def held_logging(tmp_path: Path):
    log_file = tmp_path / "logs" / "hearth.log"
    setup_logging(log_file, file_later=True)
    yield log_file
    root = logging.getLogger("hearth")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root._hearth_configured = None  # type: ignore[attr-defined]


def test_records_before_the_file_is_attached_are_written_to_it_in_order(held_logging):
    log = logging.getLogger("hearth.test")
    log.info("before the paint")
    log.debug("token hf_abcdefghijklmnop kept out")
    assert not held_logging.exists()
    attach_log_file()
    log.info("after the paint")
    attach_log_file()  # a second call changes nothing
    lines = held_logging.read_text(encoding="utf-8").splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "before the paint",
        "token [secret] kept out",
        "after the paint",
    ]


def test_an_error_opens_the_file_at_once_and_still_reaches_stderr(capsys, held_logging):
    logging.getLogger("hearth.test").info("first")
    logging.getLogger("hearth.test").error("the window could not be built")
    assert (
        held_logging.read_text(encoding="utf-8")
        .splitlines()[-1]
        .endswith("ERROR hearth.test: the window could not be built")
    )
    assert "the window could not be built" in capsys.readouterr().err


def test_what_is_held_is_written_at_exit(tmp_path):
    """A start that ends before its first paint (a second studio handing over) still
    leaves its lines in the file."""
    log_file = tmp_path / "hearth.log"
    code = (
        "import logging, pathlib\n"
        "from app.core.common.logs import setup_logging\n"
        f"setup_logging(pathlib.Path({str(log_file)!r}), file_later=True)\n"
        "logging.getLogger('hearth.start').info('handed over to the running studio')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert "handed over to the running studio" in log_file.read_text(encoding="utf-8")
