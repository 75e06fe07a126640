"""The store a URL names: the one place that picks a backend."""

from __future__ import annotations

from pathlib import Path

from ._copy import Portable
from ._pg import PostgresStore
from ._settings import StoreSettings
from ._sqlite import DEFAULT_KEY_FILE, SQLiteStore
from ._url import default_url, parse_url


def store_url(settings: StoreSettings, data_dir: str | Path) -> str:
    """The URL the settings name: ``[store] url``, or the SQLite file in the data directory."""
    return settings.url or default_url(data_dir)


def open_store(
    url: str, settings: StoreSettings | None = None, *, data_dir: str | Path, shards: int = 256
) -> Portable:
    """A new (unopened) store for ``url`` (empty: ``sqlite:///<data_dir>/controlplane.db``); use it as
    ``async with``. The secret key file is ``settings.secret_key_file``, else (SQLite only)
    ``<data_dir>/secret.key``. ``StoreError`` names what is wrong with the URL, never its password."""
    settings = settings or StoreSettings()
    parsed = parse_url(url or default_url(data_dir))
    if parsed.backend == "sqlite":
        key_file = settings.secret_key_file or Path(data_dir) / DEFAULT_KEY_FILE
        return SQLiteStore(parsed.target, settings, shards=shards, secret_key_file=key_file)
    return PostgresStore(parsed.target, settings, shards=shards)
