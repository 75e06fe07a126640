"""Request/response helpers shared by the handlers: JSON responses, API errors, body decoding."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from aiohttp import web

JSON_TYPES = frozenset({"application/json"})
MERGE_PATCH_TYPE = "application/merge-patch+json"
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})
MANIFEST_TYPES = JSON_TYPES | YAML_TYPES

_encoder = msgspec.json.Encoder()
_AT_PATH = re.compile(r" - at `(\$[^`]*)`")

T = TypeVar("T")

MAX_BODY_BYTES = web.AppKey("max_body_bytes", int)


class FieldErrorBody(msgspec.Struct):
    """One entry of a 422 answer: the field (``spec.eksConfig.region``), the rule, a readable message."""

    path: str
    rule: str
    message: str


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error answer: ``{"error": message}``, plus ``errors`` on 422."""

    error: str
    errors: list[FieldErrorBody] | None = None


class ApiError(Exception):
    """An error answer; raised by handlers, rendered by the error middleware."""

    def __init__(self, status: int, message: str, errors: list[FieldErrorBody] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> ErrorBody:
        return ErrorBody(error=self.message, errors=self.errors)


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(obj), status=status, content_type="application/json")


def error_response(status: int, message: str, errors: list[FieldErrorBody] | None = None) -> web.Response:
    return json_response(ErrorBody(error=message, errors=errors), status=status)


def unprocessable(errors: list[FieldErrorBody]) -> ApiError:
    summary = "; ".join(f"{e.path}: {e.message}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ApiError(422, f"validation failed: {summary}{more}", errors)


def schema_error(exc: msgspec.ValidationError, prefix: str = "$") -> ApiError:
    """A msgspec type/shape error (wrong type, unknown field, missing field) as a 422 with its path."""
    error = shape_error(str(exc), prefix)
    if error is None:
        error = FieldErrorBody(path=prefix.lstrip("$."), rule="type", message=str(exc))
    return unprocessable([error])


def shape_error(message: str, prefix: str = "$") -> FieldErrorBody | None:
    """The field error in a msgspec message ending in `` - at `$.path` `` (None when it names no field)."""
    match = _AT_PATH.search(message)
    if match is None:
        return None
    # Paths are written like the validators' (``spec.eksConfig.nodeGroups[0].minSize``), without ``$.``.
    path = (prefix + match.group(1)[1:]).removeprefix("$").removeprefix(".")
    text = message[: match.start()] + message[match.end() :]
    if text.startswith("Object contains unknown field"):
        rule = "unknown-field"
    elif text.startswith("Object missing required field"):
        rule = "required"
    else:
        rule = "type"
    return FieldErrorBody(path=path, rule=rule, message=text)


async def read_body(request: web.Request) -> bytes:
    """The whole body; 413 beyond the app's ``client_max_size`` (checked on Content-Length first)."""
    limit = request.app[MAX_BODY_BYTES]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"request body too large: {request.content_length} bytes, limit {limit}")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, f"request body too large: limit {limit} bytes") from exc


def media_type(request: web.Request) -> str:
    # aiohttp answers application/octet-stream when the header is absent.
    return request.content_type.lower() if "Content-Type" in request.headers else ""


async def decode_json(request: web.Request, typ: type[T], *, allowed: frozenset[str] = JSON_TYPES) -> T:
    """Decode a JSON body into ``typ``: 415 on another media type, 400 on bad JSON, 422 on a bad shape."""
    kind = media_type(request)
    if kind and kind not in allowed:
        raise ApiError(415, f"unsupported media type {kind!r}; expected {' or '.join(sorted(allowed))}")
    body = await read_body(request)
    try:
        return msgspec.json.decode(body, type=typ)
    except msgspec.ValidationError as exc:
        raise schema_error(exc) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None
