import json
from dataclasses import asdict, replace

import pytest

from app.core.common.errors import SettingsError
from app.core.config.presets import ModelSettings
from app.core.config.settings import SCHEMA_VERSION, Settings
from tests.support.read_only import read_only


def test_defaults_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings.load(path)
    assert settings.schema_version == SCHEMA_VERSION
    settings.sampling = replace(settings.sampling, temperature=0.2)
    settings.model_folders = ["/models"]
    settings.save(path)
    again = Settings.load(path)
    assert again.sampling.temperature == 0.2 and again.model_folders == ["/models"]
    stored = json.loads(path.read_text())
    assert stored["schema_version"] == SCHEMA_VERSION
    assert stored["sampling"] == asdict(again.sampling)


def damaged_copies(path):
    return sorted(path.parent.glob(f"{path.name}.damaged-*"))


def test_damaged_file_gives_defaults_and_is_kept(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    settings = Settings.load(path)
    assert settings == Settings() and "could not be used" in settings.notice
    (copy,) = damaged_copies(path)
    assert copy.read_text() == "{not json" and copy.name in settings.notice


def test_settings_nested_200000_deep_give_defaults_not_a_recursion_error(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"model_settings": ' + "[" * 200_000 + "]" * 200_000 + "}")
    settings = Settings.load(path)
    assert settings == Settings() and "nested too deeply" in settings.notice
    assert len(damaged_copies(path)) == 1


def test_damaged_settings_in_a_read_only_folder_give_defaults_and_a_message(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "settings.json").write_text("[1, 2")
    with read_only(folder):
        settings = Settings.load(folder / "settings.json")
        assert settings == Settings() and "nor set aside" in settings.notice
        with pytest.raises(SettingsError, match="could not be saved"):
            settings.save(folder / "settings.json")


def test_a_folder_list_holding_a_number_keeps_the_other_settings(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"model_folders": [1], "hidden_models": ["/a", None], "last_model": "/m.gguf"})
    )
    settings = Settings.load(path)
    assert settings.model_folders == [] and settings.hidden_models == []
    assert settings.last_model == "/m.gguf"
    assert "model_folders was [1], not a list of text" in settings.notice
    (copy,) = damaged_copies(path)
    assert json.loads(copy.read_text())["model_folders"] == [1]
    again = Settings.load(path)  # repaired on disk: said once, not at every start
    assert again == settings and again.notice == ""


def test_wrong_shaped_model_settings_keep_only_what_is_usable(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "model_settings": {
                    "/a.gguf": [1, 2],
                    "/b.gguf": {"temperature": "hot", "top_k": 5, "n_ctx": True},
                    "/c.gguf": {"temperature": 0.3},
                }
            }
        )
    )
    settings = Settings.load(path)
    assert settings.model_settings == {
        "/b.gguf": {"sampling": {"top_k": 5}},
        "/c.gguf": {"sampling": {"temperature": 0.3}},
    }
    assert "/a.gguf are not a JSON object" in settings.notice
    assert ModelSettings.from_json(settings.model_settings["/b.gguf"]).sampling.top_k == 5
    assert "notice" not in json.loads(path.read_text())


def test_wrong_types_are_ignored_not_fatal(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"temperature": "hot", "max_tokens": 64, "unknown": 1}))
    settings = Settings.load(path)
    assert settings.sampling.temperature == Settings().sampling.temperature
    assert settings.sampling.max_tokens == 64


def test_a_file_of_schema_1_loads_with_its_values_and_is_saved_in_the_new_shape(tmp_path):
    """Hearth before the sampling fields were declared once kept them at the top level, and
    each model's beside its load settings: such a file loads as it was, with nothing reset."""
    path = tmp_path / "settings.json"
    old = {
        "schema_version": 1,
        "last_model": "/m/a.gguf",
        "system_prompt": "Be brief.",
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 12,
        "min_p": 0.1,
        "repeat_penalty": 1.3,
        "max_tokens": 300,
        "seed": 42,
        "n_ctx": 2048,
        "n_gpu_layers": 0,
        "n_threads": 1,
        "model_settings": {
            "/m/a.gguf": {
                "temperature": 1.0,
                "top_p": 0.98,
                "top_k": 100,
                "min_p": 0.02,
                "repeat_penalty": 1.05,
                "max_tokens": 64,
                "seed": 7,
                "n_ctx": 4096,
                "gpu_layers": "all",
                "flash_attn": True,
                "kv_type": "q8_0",
                "n_threads": 1,
            }
        },
        "model_folders": ["/m"],
        "window_geometry": "AAA",
        "theme": "dark",
    }
    path.write_text(json.dumps(old))
    settings = Settings.load(path)
    assert settings.notice == ""
    assert asdict(settings.sampling) == {
        k: old[k]
        for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed")
    }
    assert (settings.n_ctx, settings.system_prompt, settings.theme) == (2048, "Be brief.", "dark")
    chosen = ModelSettings.from_json(settings.model_settings["/m/a.gguf"])
    assert chosen.preset_name() == "Creative"
    assert (chosen.sampling.max_tokens, chosen.sampling.seed) == (64, 7)
    assert (chosen.n_ctx, chosen.gpu_layers, chosen.flash_attn, chosen.kv_type) == (
        4096,
        "all",
        True,
        "q8_0",
    )
    settings.save(path)
    stored = json.loads(path.read_text())
    assert stored["schema_version"] == SCHEMA_VERSION and "temperature" not in stored
    assert stored["sampling"]["top_k"] == 12
    again = Settings.load(path)
    assert again == settings and again.notice == ""
    assert ModelSettings.from_json(again.model_settings["/m/a.gguf"]) == chosen


def test_a_model_never_set_up_takes_the_files_sampling_and_one_max_tokens_default(tmp_path):
    from app.core.inference.types import SamplingOptions

    assert Settings().sampling.max_tokens == ModelSettings().sampling.max_tokens
    assert SamplingOptions().max_tokens == Settings().sampling.max_tokens
    assert SamplingOptions.of(Settings().sampling) == SamplingOptions()


def test_a_models_drafting_is_kept_and_an_impossible_count_goes_back_to_auto(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "model_settings": {
                    "/a.gguf": {"draft_tokens": 5},
                    "/b.gguf": {"draft_tokens": 500, "n_threads": 1, "lora_scale": 5.0},
                }
            }
        )
    )
    settings = Settings.load(path)
    assert ModelSettings.from_json(settings.model_settings["/a.gguf"]).draft_tokens == 5
    kept = ModelSettings.from_json(settings.model_settings["/b.gguf"])
    assert (kept.draft_tokens, kept.n_threads) == (-1, 1)  # auto: where it pays
    assert "draft_tokens was 500" in settings.notice
    assert kept.lora_scale == 1.0 and "lora_scale was 5.0" in settings.notice
