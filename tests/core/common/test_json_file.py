"""The one tolerant reader and the one atomic writer of Hearth's JSON files, on real files."""

from __future__ import annotations

import json
import os

import pytest

from app.core.common.json_file import Damaged, decode, read_json, write_atomic, write_json
from tests.support.read_only import read_only


def as_dict(raw, notes):
    if not isinstance(raw, dict):
        raise Damaged("it is not a JSON object")
    return raw


def kept(folder, name):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f"{name}.damaged-"))


def test_a_missing_file_gives_the_defaults_and_says_nothing(tmp_path):
    loaded = read_json(tmp_path / "x.json", "The file", as_dict, dict)
    assert (loaded.value, loaded.message, loaded.kept_as) == ({}, "", None)


def test_nesting_200000_deep_is_set_aside_without_a_recursion_error(tmp_path):
    path = tmp_path / "x.json"
    data = b"[" * 200_000 + b"]" * 200_000
    path.write_bytes(data)

    loaded = read_json(path, "The file", as_dict, dict)

    assert loaded.value == {} and "nested too deeply" in loaded.message
    assert loaded.kept_as.read_bytes() == data and not path.exists()
    assert kept(tmp_path, "x.json") == [loaded.kept_as.name]
    assert loaded.message.endswith(f"kept the damaged file as {loaded.kept_as.name}.")


def test_nesting_within_the_recursion_limit_but_past_the_depth_limit(tmp_path):
    with pytest.raises(Damaged, match="nested too deeply"):
        decode(b'{"a":' * 100 + b"1" + b"}" * 100)
    assert decode(b'{"a":' * 30 + b"1" + b"}" * 30) is not None


def test_a_fifo_is_never_opened_for_reading(tmp_path):
    path = tmp_path / "x.json"
    os.mkfifo(path)  # no writer: a plain open() would block forever

    loaded = read_json(path, "The file", as_dict, dict)

    assert loaded.value == {} and "not a regular file" in loaded.message
    assert not path.exists() and loaded.kept_as.is_fifo()


def test_a_folder_in_place_of_the_file_is_set_aside(tmp_path):
    (tmp_path / "x.json").mkdir()
    loaded = read_json(tmp_path / "x.json", "The file", as_dict, dict)
    assert "is a folder" in loaded.message and loaded.kept_as.is_dir()


def test_a_file_over_the_size_limit_is_not_read(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b" " * 2000 + b"{}")
    loaded = read_json(path, "The file", as_dict, dict, max_bytes=1000)
    assert "too large (2,002 bytes)" in loaded.message and loaded.value == {}


def test_nan_and_infinity_read_as_null_for_the_caller_to_reset(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": NaN, "b": -Infinity, "c": 1}')
    assert read_json(path, "The file", as_dict, dict).value == {"a": None, "b": None, "c": 1}


def test_a_partly_wrong_file_keeps_a_copy_and_is_repaired_once(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"good": 1, "bad": "x"}')

    def only_ints(raw, notes):
        good = {k: v for k, v in as_dict(raw, notes).items() if isinstance(v, int)}
        notes.extend(f"{k} was not a number" for k in raw if k not in good)
        return good

    first = read_json(path, "The file", only_ints, dict, dump=lambda v: v)
    again = read_json(path, "The file", only_ints, dict, dump=lambda v: v)

    assert first.value == again.value == {"good": 1}
    assert "bad was not a number" in first.message and first.kept_as.name in first.message
    assert first.kept_as.read_text() == '{"good": 1, "bad": "x"}'
    assert again.message == "" and json.loads(path.read_text()) == {"good": 1}


def test_a_damaged_file_in_a_read_only_folder_gives_defaults_and_a_message(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "x.json").write_text("{damaged")
    with read_only(folder):
        loaded = read_json(folder / "x.json", "The file", as_dict, dict)
    assert loaded.value == {} and "nor set aside" in loaded.message
    assert (folder / "x.json").read_text() == "{damaged"


def test_atomic_writes_leave_no_temporary_file_and_private_files_stay_private(tmp_path):
    path = tmp_path / "sub" / "x.json"
    write_json(path, {"a": 1})
    write_json(path, {"a": 2}, private=True)
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path):
    folder = tmp_path / "w"
    (folder / "in-the-way").mkdir(parents=True)
    (folder / "x.json").write_text("old")
    with pytest.raises(IsADirectoryError):
        write_atomic(folder / "in-the-way", b"new")  # os.replace onto a folder fails
    assert (folder / "x.json").read_text() == "old"
    assert sorted(p.name for p in folder.iterdir()) == ["in-the-way", "x.json"]
