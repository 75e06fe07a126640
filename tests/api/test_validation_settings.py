"""The settings registry: known settings, their validators, unknown names."""

from __future__ import annotations

from controlplane.api import known_settings, register_setting, validate_setting
from controlplane.api._validation import _settings

from ._validation_cases import E


def test_settings_registry() -> None:
    assert "eks-refresh-cron" in known_settings()
    assert validate_setting("eks-refresh-cron", "*/5 * * * *") == []
    assert validate_setting("eks-refresh-cron", "  ") == [
        E("eks-refresh-cron", "eks-refresh-cron", "value cannot be empty")
    ]
    assert validate_setting("nope", "x") == [
        E("nope", "unknown", "unknown setting 'nope'; known settings: eks-refresh-cron")
    ]


def test_register_setting_replaces_the_validator() -> None:
    name = "test-only-setting"
    register_setting(name, lambda v: None if v.isdigit() else f"{v!r} is not a number")
    try:
        assert validate_setting(name, "12") == []
        assert validate_setting(name, "x") == [E(name, name, "'x' is not a number")]
        assert name in known_settings()
    finally:
        _settings._SETTINGS.pop(name)
