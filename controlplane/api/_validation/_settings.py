"""Settings: a registry of named settings, each with a validator of its value."""

from __future__ import annotations

from collections.abc import Callable

from ._core import R_UNKNOWN, FieldError
from ._rules import rule

# The setting's name comes from the URL. A known setting's own validator words its messages (rule = name).
UNKNOWN = rule(R_UNKNOWN, "unknown setting {name!r}; known settings: {known}")

SettingValidator = Callable[[str], str | None]
"""Validates a setting's value: None when valid, else the error message."""


def _non_empty(value: str) -> str | None:
    return None if value.strip() else "value cannot be empty"


_SETTINGS: dict[str, SettingValidator] = {"eks-refresh-cron": _non_empty}


def register_setting(name: str, validator: SettingValidator) -> None:
    """Make ``name`` a known setting validated by ``validator`` (replacing an earlier one).

    ``eks-refresh-cron`` is known from the start with a non-empty check only; the scheduler module registers
    its cron parser for it.
    """
    _SETTINGS[name] = validator


def known_settings() -> frozenset[str]:
    return frozenset(_SETTINGS)


def validate_setting(name: str, value: str) -> list[FieldError]:
    """Problems with setting ``name`` = ``value``: unknown name, or what its validator reports."""
    validator = _SETTINGS.get(name)
    if validator is None:
        known = ", ".join(sorted(_SETTINGS))
        return [UNKNOWN.error(name, name=name, known=known)]
    message = validator(value)
    return [] if message is None else [FieldError(path=name, rule=name, message=message)]
