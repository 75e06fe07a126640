"""Store URLs: which backend, where, and how to print one without its password. Pure; no I/O.

``sqlite:///PATH`` takes PATH as written (``sqlite:///data/controlplane.db`` is relative,
``sqlite:////var/lib/cp/controlplane.db`` absolute), as SQLAlchemy does. ``postgresql://`` (or
``postgres://``) URLs are libpq's, passed to the driver as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from ._errors import StoreError

DEFAULT_DATABASE = "controlplane.db"
"""The SQLite file's name in the data directory when no URL is configured."""
_SQLITE = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_MASK = "***"
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL; its ``repr`` shows the redacted URL only."""

    backend: Literal["sqlite", "postgresql"]
    target: str = field(repr=False)
    """The SQLite file's path, or the PostgreSQL DSN (with its password: never print it; use ``redacted``)."""
    redacted: str
    """The URL with any password replaced by ``***``: what logs and output show."""


def default_url(data_dir: str | Path) -> str:
    return f"{_SQLITE}{Path(data_dir) / DEFAULT_DATABASE}"


def parse_url(url: str) -> StoreURL:
    """``StoreError`` naming the rule if ``url`` is not a store URL (the message never holds a password)."""
    if url.startswith(_SQLITE):
        path = url[len(_SQLITE) :]
        if not path:
            raise StoreError("store url sqlite:/// needs a file path (sqlite:///PATH)")
        return StoreURL("sqlite", path, url)
    scheme = url.partition(":")[0].lower()
    if scheme in _POSTGRES_SCHEMES:
        if not url.startswith(f"{scheme}://"):
            # Not echoed: a malformed URL may hold a password where redaction would not find it.
            raise StoreError(f"store url is not postgresql://USER@HOST:PORT/DB ({scheme}: without //)")
        return StoreURL("postgresql", url, redact_url(url))
    if scheme == "sqlite":
        raise StoreError("store url must be sqlite:///PATH (three slashes, then the path)")
    raise StoreError(
        f"store url must start with sqlite:/// or postgresql:// (got a {scheme or 'schemeless'!r} URL)"
    )


def redact_url(url: str) -> str:
    """``url`` with its password (in the user part, or a ``password=`` parameter) replaced by ``***``.
    Anything that does not parse is reduced to its scheme: better unreadable than leaking."""
    if url.startswith(_SQLITE):
        return url  # a file path: nothing secret, and urlsplit would drop the empty host
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hosts = netloc.rpartition("@")
            user, sep, _password = userinfo.partition(":")
            netloc = f"{user}:{_MASK}@{hosts}" if sep else netloc
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(key.lower() in _SECRET_PARAMS for key, _ in pairs):
                masked = [(k, _MASK if k.lower() in _SECRET_PARAMS else v) for k, v in pairs]
                query = urlencode(masked, safe="*")
        if (netloc, query) == (parts.netloc, parts.query):
            return url
        # Assembled by hand: urlunsplit drops an empty host ("postgresql:///db" is a valid libpq URL).
        rebuilt = f"{parts.scheme}://{netloc}{parts.path}"
        return rebuilt + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    except ValueError:
        scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*", url)
        return f"{scheme.group(0) if scheme else ''}://{_MASK}"
