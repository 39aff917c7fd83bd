"""Files and numbers out of llama.cpp's ranges: one check refuses them everywhere.

Header mutants (written byte by byte with ``gguf_forge``, or sparse copies of the real starter
model patched in place) that Hearth's check must refuse, and that run, fit, ls and compare must
then treat as refused: no estimate, no listing as a model, no measurement, no traceback. And
absurd numbers from the command line, a settings file or a model file: refused with one
sentence, or clamped where a larger value means the same.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.core.common.errors import InvalidModelFile
from app.core.config import limits
from app.core.config.settings import Settings
from app.core.fit import shape
from app.core.gguf import check
from app.core.gguf.header import read_local_header
from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions, SamplingOptions
from tests.faults import gguf_forge as g
from tests.support import crash_models

pytestmark = pytest.mark.faults


def kv_with(**changes) -> list:
    """The forged model's metadata with ``key=(type, value)`` changes (None removes a key);
    keys are given with ``__`` for ``.``."""
    kv = g.model_kv()
    for name, change in changes.items():
        key = name.replace("__", ".")
        kv = [item for item in kv if item[0] != key]
        if change is not None:
            kv.append((key, *change))
    return kv


HUGE = 2**32 - 1
# name -> (metadata, what the refusal must say)
MUTANTS = {
    "block_count 0": (kv_with(llama__block_count=(g.U32, 0)), "llama.block_count is 0"),
    "block_count 2^32-1": (kv_with(llama__block_count=(g.U32, HUGE)), "1 to 512"),
    "block_count 10^8": (kv_with(llama__block_count=(g.U64, 10**8)), "100,000,000"),
    "block_count as text": (kv_with(llama__block_count=(g.STRING, "30")), "not a whole number"),
    "block_count as NaN": (kv_with(llama__block_count=(g.F32, math.nan)), "finite"),
    "no block_count": (kv_with(llama__block_count=None), "lacks llama.block_count"),
    "context_length 2^32-1": (kv_with(llama__context_length=(g.U32, HUGE)), "4,294,967,295"),
    "rope base NaN": (kv_with(llama__rope__freq_base=(g.F32, math.nan)), "finite"),
    "rms epsilon inf": (
        kv_with(llama__attention__layer_norm_rms_epsilon=(g.F64, math.inf)),
        "finite",
    ),
    "no attention heads": (kv_with(llama__attention__head_count=(g.U32, 0)), "no attention"),
    "more kv heads than heads": (
        kv_with(
            llama__attention__head_count=(g.U32, 2), llama__attention__head_count_kv=(g.U32, 4)
        ),
        "more key/value heads",
    ),
    "per-layer heads, empty": (
        kv_with(llama__attention__head_count=(g.ARRAY, (g.U32, []))),
        "0 per-layer value",
    ),
    "per-layer heads as floats": (
        kv_with(llama__attention__head_count=(g.ARRAY, (g.F32, [1.0]))),
        "other than whole numbers",
    ),
    "experts used > experts": (
        kv_with(llama__expert_count=(g.U32, 2), llama__expert_used_count=(g.U32, 3)),
        "3 of 2 experts",
    ),
    "experts used, none there": (kv_with(llama__expert_used_count=(g.U32, 2)), "2 of 0"),
    "LoRA adapter": (kv_with(general__type=(g.STRING, "adapter")), "a LoRA adapter"),
    "vision projector": (kv_with(general__architecture=(g.STRING, "clip")), "projector"),
    "no architecture": (kv_with(general__architecture=None), "architecture"),
}


def mutant(tmp_path: Path, case: str) -> Path:
    name = case.replace(" ", "-").replace("^", "").replace(">", "gt").replace(",", "")
    return g.write(tmp_path / f"{name}.gguf", g.forge(kv=MUTANTS[case][0]))


@pytest.fixture(autouse=True)
def quiet_cli(monkeypatch):
    """``main`` as it is, but in this process: its log file and stderr handler are left out."""
    monkeypatch.setattr("app.cli.setup_logging", lambda *args, **kwargs: None)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", sorted(MUTANTS))
def test_a_header_mutant_is_refused_and_never_estimated(case, faults, tmp_path, capsys):
    path = mutant(tmp_path, case)
    with faults.inject(f"gguf ranges: {case} (check and fit)"):
        with pytest.raises(InvalidModelFile, match=MUTANTS[case][1]):
            check.check_file(path)
        with pytest.raises(InvalidModelFile):
            shape.shape_from_file(path)
        code, out, err = run_cli(capsys, "fit", str(path))
        assert code == 1 and out == ""  # no estimate printed
        assert err.startswith(f"Error: Hearth refused {path.name}.") and err.count("\n") == 1


def test_ls_marks_refused_files_and_lists_good_ones(faults, hearth_home, capsys):
    folder = hearth_home.models_dir
    folder.mkdir(parents=True, exist_ok=True)
    good = g.write(folder / "good.gguf", g.forge())
    bad = [mutant(folder, case) for case in sorted(MUTANTS)]
    with faults.inject("gguf ranges: hearth ls with refused files"):
        code, out, _ = run_cli(capsys, "ls", "--json")
        assert code == 0
        listed = {Path(m["path"]).name: m for m in json.loads(out)}
        assert "problem" not in listed[good.name]
        for path in bad:
            assert listed[path.name]["problem"].startswith(f"Hearth refused {path.name}.")
        code, out, _ = run_cli(capsys, "ls")
        table, _, refused = out.partition("Files Hearth will not load")
        assert "good" in table and not any(p.stem in table for p in bad)
        assert all(p.stem in refused for p in bad)


def test_compare_refuses_a_file_before_measuring(faults, starter_gguf, tmp_path, capsys):
    bad = mutant(tmp_path, "block_count 2^32-1")
    with faults.inject("gguf ranges: hearth compare with a refused file"):
        code, out, err = run_cli(capsys, "compare", str(starter_gguf), str(bad), "--json")
        assert code == 1 and out == ""
        assert err.startswith(f"Error: Hearth refused {bad.name}.")


def test_every_part_of_a_split_model_is_checked(faults, tmp_path):
    first = g.write(tmp_path / "split-00001-of-00002.gguf", g.forge())
    g.write(
        tmp_path / "split-00002-of-00002.gguf",
        g.forge(kv=[("split.no", g.U16, 1)], tensors=[g.Tensor("blk.0.w", (32, 64))], data_size=64),
    )
    with faults.inject("gguf ranges: a split model's second part cut short"):
        with pytest.raises(
            InvalidModelFile,
            match="Its part split-00002-of-00002.gguf is damaged: the tensor 'blk.0.w' runs past",
        ):
            check.check_file(first)


@pytest.mark.parametrize(
    "patch", ["block_count 0", "block_count 2^32-1", "context_length 2^32-1", "head_count 0"]
)
def test_the_real_model_mutated_is_refused_before_llama_cpp(patch, faults, starter_gguf, tmp_path):
    """Sparse copies of the starter with one number changed: the engine's load (what run,
    serve and the studio use, inside the model host) refuses them before llama.cpp reads a
    byte; the starter itself passes."""
    makers = {
        "block_count 0": crash_models.block_count_zero,
        "block_count 2^32-1": crash_models.block_count_huge,
        "head_count 0": crash_models.head_count_zero,
        "context_length 2^32-1": lambda s, f: crash_models._patched(
            s, f / "endless-context.gguf", "llama.context_length", HUGE
        ),
    }
    path = makers[patch](starter_gguf, tmp_path)
    with faults.inject(f"gguf ranges: the starter with {patch}"):
        assert check.problem_of(starter_gguf) is None
        with pytest.raises(InvalidModelFile, match="Hearth refused"):
            Engine().load(path, LoadOptions(n_ctx=256, n_threads=1))


def test_a_file_of_many_tiny_keys_is_refused_at_once(faults, tmp_path):
    """65,535 tiny keys took llama.cpp 264 s to load; real files carry ~50."""
    kv = g.model_kv() + [(f"x.{i}", g.U8, 0) for i in range(2000)]
    path = g.write(tmp_path / "many-keys.gguf", g.forge(kv=kv))
    with faults.inject("gguf ranges: 2,000 tiny metadata keys"):
        with pytest.raises(InvalidModelFile, match="claims 2,0\\d\\d metadata keys"):
            check.check_file(path)
        assert read_local_header(g.write(tmp_path / "fine.gguf", g.forge()))  # 13 keys: read


# -- absurd numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "X", "--ctx", "1099511627776"],
        ["run", "X", "--ctx", "4294967296"],
        ["run", "X", "--ctx", "-5"],
        ["run", "X", "--temperature", "nan"],
        ["run", "X", "--temperature", "1e308"],
        ["run", "X", "--seed", "99999999999"],
        ["run", "X", "--max-tokens", "-7"],
        ["fit", "X", "--ctx", "4294967296"],
        ["serve", "X", "--ctx", "0"],
    ],
)
def test_an_absurd_number_on_the_command_line_is_one_line(argv, faults, starter_gguf, capsys):
    argv = [str(starter_gguf) if a == "X" else a for a in argv]
    with faults.inject(f"limits: hearth {' '.join(argv[:1] + argv[2:])}"):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        _, err = capsys.readouterr()
        assert exited.value.code == 2
        last = err.strip().splitlines()[-1]
        assert last.startswith("hearth ") and "error: argument" in last and "must be" in last
        assert "Traceback" not in err


@pytest.mark.parametrize(
    "options",
    [
        dict(n_ctx=2**40),
        dict(n_ctx=-5),
        dict(n_batch=0),
        dict(n_gpu_layers=-3),
        dict(n_threads=-1),
        dict(kv_type="q1"),
    ],
)
def test_load_options_refuse_what_llama_cpp_cannot_take(options, faults):
    with faults.inject(f"limits: LoadOptions {options}"):
        with pytest.raises(limits.InvalidValue, match="must be"):
            LoadOptions(**options)


def test_threads_and_gpu_layers_are_clamped(faults):
    with faults.inject("limits: 100,000 threads and 2^40 GPU layers"):
        options = LoadOptions(n_threads=100_000, n_gpu_layers=2**40)
        assert options.n_threads == (os.cpu_count() or 1) and options.n_gpu_layers == -1


@pytest.mark.parametrize(
    "sampling",
    [
        dict(temperature=1e308),
        dict(temperature=math.nan),
        dict(temperature=-1.0),
        dict(top_p=math.inf),
        dict(min_p=2.0),
        dict(top_k=-1),
        dict(repeat_penalty=0.0),
        dict(seed=2**40),
        dict(max_tokens=2**40),
    ],
)
def test_sampling_options_refuse_absurd_values(sampling, faults):
    with faults.inject(f"limits: SamplingOptions {sampling}"):
        with pytest.raises(limits.InvalidValue, match="must be"):
            SamplingOptions(**sampling)


def test_absurd_settings_go_back_to_their_defaults(faults, tmp_path):
    path = tmp_path / "settings.json"
    stored = {
        "n_ctx": -5,
        "temperature": 1e308,
        "top_p": 7,
        "n_gpu_layers": 2**40,
        "n_threads": 100_000,
        "seed": -9,
        "system_prompt": "x" * (limits.MAX_PROMPT_CHARS + 1),
        "model_settings": {
            "/m.gguf": {"n_ctx": 2**40, "temperature": 0.3, "gpu_layers": "99999999999999999"}
        },
    }
    path.write_text(json.dumps(stored))
    with faults.inject("limits: a settings file of absurd numbers"):
        settings = Settings.load(path)
        defaults = Settings()
        assert (settings.n_ctx, settings.sampling, settings.system_prompt) == (
            defaults.n_ctx,
            defaults.sampling,
            "",
        )
        assert settings.n_threads == (os.cpu_count() or 1) and settings.n_gpu_layers == -1
        assert settings.model_settings == {
            "/m.gguf": {"sampling": {"temperature": 0.3}, "gpu_layers": "99999999999999999"}
        }
        assert "their defaults apply" in settings.notice  # one sentence, the first three named
        assert all(word in settings.notice for word in ("system prompt", "temperature", "top-p"))
        from app.core.config.presets import ModelSettings, gpu_layer_count

        chosen = ModelSettings.from_json(settings.model_settings["/m.gguf"])
        assert gpu_layer_count(chosen.gpu_layers) == -1  # more than any model has: all
        LoadOptions(
            n_ctx=settings.n_ctx, n_threads=settings.n_threads, n_gpu_layers=settings.n_gpu_layers
        )  # what a load gets: accepted


def test_nan_in_a_settings_file_is_reset(faults, tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"temperature": NaN, "repeat_penalty": Infinity}')
    with faults.inject("limits: NaN in settings.json"):
        settings = Settings.load(path)
        assert settings.sampling == Settings().sampling
        SamplingOptions.of(settings.sampling)


def test_a_context_length_past_a_c_int_is_refused_by_hearth_run(faults, starter_gguf, tmp_path):
    """As a user runs it: ``hearth run`` (its model host) on the starter with context_length
    2^32-1 (was: a ValueError traceback at the first prompt)."""
    path = crash_models._patched(starter_gguf, tmp_path / "ctx.gguf", "llama.context_length", HUGE)
    with faults.inject("limits: hearth run on a file with context_length 2^32-1"):
        done = subprocess.run(
            [str(Path(sys.executable).with_name("hearth")), "run", str(path), "-p", "hi"],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: Hearth refused ctx.gguf.")
        assert "llama.context_length is 4,294,967,295" in last
