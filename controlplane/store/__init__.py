"""Persistence of clusters, statuses, events, credentials, settings and secrets.

``Store`` is the contract (see its module for the semantics every backend keeps); ``SQLiteStore`` is the
embedded default backend.
"""

from ._errors import AlreadyExists, ChangesExpired, Conflict, Fenced, NotFound, StoreClosed, StoreError
from ._protocol import Store
from ._records import Change, ChangeKind, Fence, Lease, RawCluster, ReplicaRecord, shard_of
from ._settings import StoreSettings
from ._sqlite import SQLiteStore

__all__ = [
    "AlreadyExists",
    "Change",
    "ChangeKind",
    "ChangesExpired",
    "Conflict",
    "Fence",
    "Fenced",
    "Lease",
    "NotFound",
    "RawCluster",
    "ReplicaRecord",
    "SQLiteStore",
    "Store",
    "StoreClosed",
    "StoreError",
    "StoreSettings",
    "shard_of",
]
