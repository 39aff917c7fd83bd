import json

import pytest

from app.core.common.errors import SettingsError
from app.core.config.presets import ModelSettings
from app.core.config.settings import SCHEMA_VERSION, Settings
from tests.support.read_only import read_only


def test_defaults_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings.load(path)
    assert settings.schema_version == SCHEMA_VERSION
    settings.temperature = 0.2
    settings.model_folders = ["/models"]
    settings.save(path)
    again = Settings.load(path)
    assert again.temperature == 0.2 and again.model_folders == ["/models"]
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


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
    assert settings.model_settings == {"/b.gguf": {"top_k": 5}, "/c.gguf": {"temperature": 0.3}}
    assert "/a.gguf are not a JSON object" in settings.notice
    assert ModelSettings.from_json(settings.model_settings["/b.gguf"]).top_k == 5
    assert "notice" not in json.loads(path.read_text())


def test_wrong_types_are_ignored_not_fatal(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"temperature": "hot", "max_tokens": 64, "unknown": 1}))
    settings = Settings.load(path)
    assert settings.temperature == Settings().temperature
    assert settings.max_tokens == 64
