"""``/v1/settings``: runtime settings (Rancher's ``eks-refresh-cron``), validated before they are stored."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec
from aiohttp import web

from ..api import known_settings, validate_setting
from ..schedule import validate_refresh_cron
from ._http import ApiError, FieldErrorBody, decode_json, json_response, unprocessable
from ._keys import SETTING_DEFAULTS, STORE

REFRESH_CRON = "eks-refresh-cron"

_PARSERS: Mapping[str, Callable[[str], str | None]] = {REFRESH_CRON: validate_refresh_cron}
"""The parsers that will apply a value; a value they refuse would be stored but never take effect."""


class SettingBody(msgspec.Struct, forbid_unknown_fields=True):
    value: str


class SettingValue(msgspec.Struct):
    name: str
    value: str


class SettingList(msgspec.Struct):
    items: dict[str, str]


async def _effective(request: web.Request) -> dict[str, str]:
    known = known_settings()
    stored = await request.app[STORE].list_settings()
    values = {k: v for k, v in request.app[SETTING_DEFAULTS].items() if k in known}
    values.update({k: v for k, v in stored.items() if k in known})
    return dict(sorted(values.items()))


def _known(name: str) -> None:
    if name not in known_settings():
        known = ", ".join(sorted(known_settings()))
        raise ApiError(404, f"unknown setting {name!r}; known settings: {known}")


async def list_settings(request: web.Request) -> web.Response:
    return json_response(SettingList(items=await _effective(request)))


async def get_setting(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    _known(name)
    values = await _effective(request)
    return json_response(SettingValue(name=name, value=values.get(name, "")))


def _validate(name: str, value: str) -> list[FieldErrorBody]:
    errors = [
        FieldErrorBody(path="value", rule=e.rule, message=e.message) for e in validate_setting(name, value)
    ]
    parser = _PARSERS.get(name)
    if not errors and parser is not None:
        message = parser(value)
        if message is not None:
            errors.append(FieldErrorBody(path="value", rule=name, message=message))
    return errors


async def put_setting(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    _known(name)
    body = await decode_json(request, SettingBody)
    errors = _validate(name, body.value)
    if errors:
        raise unprocessable(errors)
    await request.app[STORE].put_setting(name, body.value)
    return json_response(SettingValue(name=name, value=body.value))
