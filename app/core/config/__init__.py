"""The settings file, per-model presets and the limits every value must keep."""
