"""A fuzzer of Hearth's JSON files: state of the wrong types, the wrong shape and any depth.

For each file Hearth keeps (settings, saved connections, the model header cache, a download's
sidecar, Discover's saved results, the downloads list), hypothesis writes generated content
(any JSON value; the file's own keys holding values of any type; brackets nested up to 200,000
deep; random bytes)
and reads it back through the path the user takes. Each example is one injected fault in the
faults summary. Recovered means: no traceback (only the typed error a caller already shows),
the values used have their types, a message whenever something was reset, the damaged original
kept aside byte for byte, and the message given once, not at every start.

Fixed seed and bounded examples (``derandomize``, ``MAX_EXAMPLES``) keep CI fast and repeatable;
``HEARTH_FUZZ_EXAMPLES=2000 pytest tests/faults/test_json_faults.py`` searches longer.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from app.core.common.errors import RemoteError
from app.core.config.presets import ModelSettings
from app.core.config.settings import Settings
from app.core.downloads import history
from app.core.downloads.store import RepoStore, Sidecar, read_sidecar
from app.core.hub import saved_search
from app.core.inference.remote import Connection, ConnectionStore
from app.core.library.catalog import HeaderCache, LocalModel, checker, list_models
from tests.faults.fuzzing import examples, fuzzed
from tests.faults.tally import CrashDetected, Tally

pytestmark = pytest.mark.faults

MAX_EXAMPLES = examples(40)
FUZZ = fuzzed(MAX_EXAMPLES, HealthCheck.function_scoped_fixture)
DEEP = b"[" * 200_000 + b"]" * 200_000

scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def shaped(keys: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Objects with the file's own keys, each holding its right type or any other value."""
    return st.fixed_dictionaries({}, optional={k: s | values for k, s in keys.items()})


def nested(depth: int, opener: str) -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return (
        (opener * depth + "1" + closer * depth).encode()
        if opener != "["
        else (opener * depth + closer * depth).encode()
    )


def contents(shape: st.SearchStrategy) -> st.SearchStrategy:
    """File content: the shape or any JSON value as JSON, deep nesting, or raw bytes."""
    as_json = (shape | values).map(lambda v: json.dumps(v).encode())
    deep = st.builds(nested, st.integers(33, 3000), st.sampled_from(["[", '{"a":']))
    return st.one_of(as_json, as_json, deep, st.binary(max_size=40))


def case(name: str, data: bytes) -> str:
    return f"{name}: {data[:50]!r}{'...' if len(data) > 50 else ''} ({len(data):,} bytes)"


def check_kept(path: Path, data: bytes, said: str) -> None:
    """A message iff the original was set aside, and the copy holds its exact bytes."""
    copies = sorted(path.parent.glob(f"{path.name}.damaged-*"))
    if said:
        assert len(copies) == 1 and copies[0].read_bytes() == data, said
    else:
        assert not copies, f"set aside without a word: {copies}"


def fuzz(faults: Tally, name: str, data: bytes, check: Callable[[Path], None]) -> None:
    with faults.inject(case(name, data)), tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            check(path)
        except RecursionError as exc:
            raise CrashDetected(f"RecursionError reading {name}") from exc


# -- settings.json ----------------------------------------------------------------------------

SETTING_KEYS = {f: st.just(v) for f, v in Settings().stored().items()}
SETTING_KEYS["model_settings"] = st.dictionaries(
    st.text(max_size=8),
    shaped({k: st.just(v) for k, v in ModelSettings().to_json().items()}) | values,
    max_size=2,
)
SETTING_KEYS["model_folders"] = st.lists(st.text(max_size=5) | values, max_size=2)


def settings_read(path: Path) -> None:
    data = path.read_bytes()
    loaded = Settings.load(path)
    defaults = Settings()
    for key in defaults.stored():
        value, default = getattr(loaded, key), getattr(defaults, key)
        assert type(value) is type(default), f"{key}={value!r}"
    assert all(isinstance(f, str) for f in loaded.model_folders + loaded.hidden_models)
    assert all(isinstance(v, dict) for v in loaded.model_settings.values())
    check_kept(path, data, loaded.notice)
    assert Settings.load(path).notice == "", "the same message at the next start"


@FUZZ
@given(data=contents(shaped(SETTING_KEYS)))
@example(data=DEEP)
@example(data=b'{"model_folders": [1], "model_settings": {"/a": [1]}}')
def test_fuzzed_settings(faults, data):
    fuzz(faults, "settings.json", data, settings_read)


# -- connections.json -------------------------------------------------------------------------

CONNECTION = shaped(
    {
        "name": st.text(max_size=6),
        "base_url": st.sampled_from(["http://127.0.0.1:1", "ftp://x", ""]),
        "api_key": st.text(max_size=6),
    }
)


def connections_read(path: Path) -> None:
    data = path.read_bytes()
    store = ConnectionStore(path)
    said = ""
    try:
        found = store.connections()
    except RemoteError as exc:
        said = str(exc)
        found = store.connections()  # said once: now it lists what could be read
    assert all(isinstance(c, Connection) for c in found)
    check_kept(path, data, said)


@FUZZ
@given(
    data=contents(
        shaped(
            {"schema_version": st.just(1), "connections": st.lists(CONNECTION | values, max_size=3)}
        )
    )
)
@example(data=b'{"connections": ' + DEEP + b"}")
def test_fuzzed_connections(faults, data):
    fuzz(faults, "connections.json", data, connections_read)


# -- model_headers.json -----------------------------------------------------------------------

HEADER = shaped(
    {
        "size": st.just(10),
        "mtime_ns": st.integers(0, 2**63),
        "architecture": st.just("llama"),
        "parameters": st.integers(0, 10**12),
        "context_length": st.integers(0, 2**32),
        "file_type": st.integers(0, 40),
    }
)


def headers_read(path: Path) -> None:
    data = path.read_bytes()
    folder = path.parent / "models"
    folder.mkdir()
    model = folder / "M-Q4_K_M.gguf"
    model.write_bytes(b"GGUF" + bytes(6))
    with_key = data.replace(b'"KEY"', json.dumps(str(model)).encode())
    path.write_bytes(with_key)
    (found,) = list_models(
        path.parent / "none",
        path.parent / "none",
        [folder],
        other_apps=False,
        header_cache=HeaderCache(path),
    )
    assert isinstance(found, LocalModel) and found.path == model
    assert isinstance(found.architecture, str | None) and isinstance(found.parameters, int | None)
    copies = sorted(path.parent.glob(f"{path.name}.damaged-*"))
    assert all(c.read_bytes() == with_key for c in copies) and len(copies) <= 1


@FUZZ
@given(
    data=contents(
        shaped(
            {
                "version": st.just(HeaderCache.VERSION),
                "checked_by": st.just(checker()),
                "files": st.dictionaries(st.just("KEY"), HEADER | values),
            }
        )
    )
)
@example(
    data=json.dumps(
        {"version": HeaderCache.VERSION, "checked_by": checker(), "files": {"KEY": [1]}}
    ).encode()
)
def test_fuzzed_header_cache(faults, data):
    fuzz(faults, "model_headers.json", data, headers_read)


# -- a download's sidecar (blobs/<etag>.part.json) --------------------------------------------

ETAG = "e" * 64
SIDECAR = Sidecar(
    "org/M-GGUF",
    "M-Q4_K_M.gguf",
    "M-Q4_K_M.gguf",
    "main",
    "c" * 40,
    ETAG,
    100,
    None,
    None,
    "http://127.0.0.1:1/x",
)


def sidecar_read(path: Path) -> None:
    data = path.read_bytes()
    store = RepoStore(path.parent / "hub", "org/M-GGUF")
    record = store.sidecar_path(ETAG)
    record.parent.mkdir(parents=True)
    os.replace(path, record)
    store.part(ETAG).write_bytes(b"x" * 50)
    found = read_sidecar(record)
    assert found is None or isinstance(found, Sidecar)
    if found is None:  # a damaged record: the pull starts that file again, and goes on
        assert store.start_partial(SIDECAR) == 0 and read_sidecar(record) == SIDECAR
    copies = sorted(record.parent.glob(f"{record.name}.damaged-*"))
    assert all(c.read_bytes() == data for c in copies) and len(copies) <= 1


@FUZZ
@given(data=contents(shaped({k: st.just(v) for k, v in vars(SIDECAR).items()})))
@example(data=b"[]")
def test_fuzzed_download_sidecar(faults, data):
    fuzz(faults, f"{ETAG}.part.json", data, sidecar_read)


# -- discover_results.json --------------------------------------------------------------------

RESULT = shaped(
    {
        "id": st.text(min_size=1, max_size=8),
        "downloads": st.integers(0, 99),
        "tags": st.lists(st.text(max_size=4), max_size=2),
        "size_range": st.lists(st.integers(0, 99), max_size=3),
        "last_modified": st.just("2025-01-01T00:00:00"),
    }
)


def results_read(path: Path) -> None:
    data = path.read_bytes()
    loaded = saved_search.load(path)
    if loaded.value is not None:
        assert all(
            isinstance(m.id, str) and all(isinstance(t, str) for t in m.tags)
            for m in loaded.value.models
        )
        assert all(isinstance(v, str) for v in loaded.value.query.values())
    check_kept(path, data, loaded.message)
    assert saved_search.load(path).message == "", "the same message at the next start"


@FUZZ
@given(
    data=contents(
        shaped(
            {
                "version": st.just(1),
                "saved_at": st.just("2025-01-01T00:00:00"),
                "query": st.dictionaries(
                    st.sampled_from(saved_search.QUERY_KEYS), values, max_size=2
                ),
                "models": st.lists(RESULT | values, max_size=3),
            }
        )
    )
)
@example(data=b'{"models": ' + DEEP + b"}")
# a result of the wrong shape: said once, the file written back without it (a longer run found
# the same sentence said again at every start)
@example(data=b'{"version": 1, "query": {}, "models": [{}], "saved_at": "2025-01-01T00:00:00"}')
def test_fuzzed_saved_search_results(faults, data):
    fuzz(faults, "discover_results.json", data, results_read)


# -- downloads.json (the downloads list kept across restarts) ----------------------------------

PAST = shaped(
    {
        "repo_id": st.sampled_from(["org/M-GGUF", ""]),
        "filename": st.sampled_from(["M-Q4_K_M.gguf", ""]),
        "revision": st.just("c" * 40),
        "state": st.sampled_from(["done", "failed", "downloading"]),
        "size_bytes": st.integers(-5, 2**40),
        "path": st.text(max_size=6),
        "message": st.text(max_size=6),
    }
)


def downloads_read(path: Path) -> None:
    data = path.read_bytes()
    loaded = history.load(path)
    assert isinstance(loaded.value, list)
    for row in loaded.value:  # each row as the panel shows it: a name, a state, a size
        assert isinstance(row, history.PastDownload)
        assert row.repo_id and row.filename and row.state in history.KEPT_STATES
        assert isinstance(row.size_bytes, int) and row.size_bytes >= 0
    check_kept(path, data, loaded.message)
    assert history.load(path).message == "", "the same message at the next start"
    history.save(path, loaded.value)  # the list goes on being kept
    assert history.load(path).value == loaded.value


@FUZZ
@given(
    data=contents(shaped({"version": st.just(1), "downloads": st.lists(PAST | values, max_size=3)}))
)
@example(data=b'{"downloads": ' + DEEP + b"}")
@example(
    data=b'{"version": 1, "downloads": [{"repo_id": "a/b", "filename": "x.gguf", '
    b'"state": "done", "size_bytes": true}]}'
)
def test_fuzzed_downloads_list(faults, data):
    fuzz(faults, "downloads.json", data, downloads_read)
