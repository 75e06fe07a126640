"""Persistence of clusters, statuses, events, credentials, settings and secrets.

``Store`` is the contract (see its module for the semantics every backend keeps); ``SQLiteStore`` is the
embedded default backend, ``PostgresStore`` the one several replicas share. ``open_store`` picks one by URL
(``sqlite:///PATH`` or ``postgresql://USER@HOST:PORT/DB``); ``redact_url`` is how a URL is printed;
``copy_store`` moves a whole fleet from one store to another.
"""

from ._copy import CopySummary, Portable, copy_store
from ._errors import AlreadyExists, ChangesExpired, Conflict, Fenced, NotFound, StoreClosed, StoreError
from ._factory import open_store, store_url
from ._pg import PostgresStore
from ._protocol import Store
from ._query import (
    ClusterPage,
    ClusterQuery,
    DigestPage,
    FleetTotals,
    LabelOp,
    LabelRequirement,
    in_conflict,
    matches,
)
from ._records import Change, ChangeKind, Fence, Lease, RawCluster, ReplicaRecord, shard_of
from ._settings import StoreSettings
from ._sqlite import SQLiteStore
from ._url import StoreURL, parse_url, redact_url

__all__ = [
    "AlreadyExists",
    "Change",
    "ChangeKind",
    "ChangesExpired",
    "ClusterPage",
    "ClusterQuery",
    "Conflict",
    "CopySummary",
    "DigestPage",
    "Fence",
    "Fenced",
    "FleetTotals",
    "LabelOp",
    "LabelRequirement",
    "Lease",
    "NotFound",
    "Portable",
    "PostgresStore",
    "RawCluster",
    "ReplicaRecord",
    "SQLiteStore",
    "Store",
    "StoreClosed",
    "StoreError",
    "StoreSettings",
    "StoreURL",
    "copy_store",
    "in_conflict",
    "matches",
    "open_store",
    "parse_url",
    "redact_url",
    "shard_of",
    "store_url",
]
