import json

from app.core.settings import SCHEMA_VERSION, Settings


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


def test_damaged_file_gives_defaults_and_is_kept(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert Settings.load(path) == Settings()
    assert (tmp_path / "settings.damaged.json").read_text() == "{not json"


def test_wrong_types_are_ignored_not_fatal(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"temperature": "hot", "max_tokens": 64, "unknown": 1}))
    settings = Settings.load(path)
    assert settings.temperature == Settings().temperature
    assert settings.max_tokens == 64
