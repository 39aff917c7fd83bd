"""The app-wide settings File > Settings edits (API server, comfortable speed) go through the one
tolerant reader: out of range or of the wrong type, each goes back to its default alone."""

from __future__ import annotations

import json

from app.core.config.settings import Settings


def test_server_and_speed_settings_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    Settings(api_port=8123, api_start_with_studio=True, comfortable_tok_s=15.5).save(path)
    loaded = Settings.load(path)
    assert (loaded.api_port, loaded.api_start_with_studio, loaded.comfortable_tok_s) == (
        8123,
        True,
        15.5,
    )
    assert loaded.notice == ""


def test_bad_values_go_back_to_their_defaults_and_are_said(tmp_path):
    path = tmp_path / "settings.json"
    values = {"api_port": 70000, "comfortable_tok_s": -3, "api_start_with_studio": "yes"}
    path.write_text(json.dumps({**values, "theme": "dark"}), encoding="utf-8")
    loaded = Settings.load(path)
    assert (loaded.api_port, loaded.comfortable_tok_s, loaded.api_start_with_studio) == (
        8080,
        10.0,
        False,
    )
    assert loaded.theme == "dark"  # the good value beside them is kept
    assert "the server port must be from 1 to 65,535" in loaded.notice
    assert "the comfortable speed must be a number from 0.5 to 1000, not -3" in loaded.notice
