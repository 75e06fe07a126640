"""Persistence of clusters, statuses, events, credentials, settings and secrets.

``Store`` is the contract (see its module for the semantics every backend keeps); ``SQLiteStore`` is the
embedded default backend.
"""

from ._errors import AlreadyExists, Conflict, NotFound, StoreClosed, StoreError
from ._protocol import Store
from ._settings import StoreSettings
from ._sqlite import SQLiteStore

__all__ = [
    "AlreadyExists",
    "Conflict",
    "NotFound",
    "SQLiteStore",
    "Store",
    "StoreClosed",
    "StoreError",
    "StoreSettings",
]
