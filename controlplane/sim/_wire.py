"""The EKS REST-JSON wire, shared by every resource: query parameters, request bodies, page tokens."""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from . import _errors as err

Json = dict[str, Any]
Query = Mapping[str, str]


class QueryReader:
    """Query parameters, parsed only when an operation asks for them (DescribeCluster never does)."""

    __slots__ = ("_get_all", "_query")

    def __init__(self, query: Query, get_all: Callable[[str], list[str]]) -> None:
        self._query = query
        self._get_all = get_all

    def get(self, key: str) -> str | None:
        return self._query.get(key)

    def all(self, key: str) -> list[str]:
        return self._get_all(key)

    def int(self, key: str) -> int | None:
        v = self._query.get(key)
        if v is None:
            return None
        try:
            return int(v)
        except ValueError as e:
            raise err.invalid_parameter(f"{key} must be an integer.") from e


def decode(body: bytes, typ: type[Any]) -> Any:
    """A request body as ``typ``; an invalid field or malformed JSON is the error EKS answers."""
    try:
        return msgspec.json.decode(body or b"{}", type=typ)
    except msgspec.ValidationError as e:
        raise err.invalid_parameter(str(e)) from e
    except msgspec.DecodeError as e:
        raise err.EksError("SerializationException", 400, f"Malformed JSON body: {e}") from e


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise err.invalid_parameter("The nextToken provided is invalid.") from e


def paginate(
    keys: list[str],
    max_results: int | None,
    next_token: str | None,
    *,
    ordered: bool = True,
    limit: int = 100,
) -> tuple[list[str], str | None]:
    """One page of ``keys`` (in order); the token is the last key returned, so deletes between pages
    neither repeat nor skip survivors. ``ordered`` keys are sorted: when the last key vanished, the
    page starts where it would sort; other keys (update IDs in creation order) start over."""
    size = limit if max_results is None else max_results
    if size < 1 or size > limit:
        raise err.invalid_parameter(f"maxResults must be between 1 and {limit}.")
    start = 0
    if next_token:
        last = decode_token(next_token)
        if ordered:
            start = bisect.bisect_right(keys, last)
        elif last in keys:
            start = keys.index(last) + 1
    page = keys[start : start + size]
    more = start + size < len(keys)
    return page, (encode_token(page[-1]) if more and page else None)


def page_answer(
    field: str, keys: list[str], max_results: int | None, next_token: str | None, *, ordered: bool = True
) -> Json:
    """A List* answer: one page of ``keys`` under ``field``, plus ``nextToken`` when there are more."""
    page, nxt = paginate(keys, max_results, next_token, ordered=ordered)
    out: Json = {field: page}
    if nxt:
        out["nextToken"] = nxt
    return out
