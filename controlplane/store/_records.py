"""Records every backend stores besides clusters: the change feed, replicas, shard leases, fences.

Pure data and one pure function (``shard_of``); no I/O.
"""

from __future__ import annotations

import enum
import hashlib

import msgspec


class ChangeKind(enum.StrEnum):
    """What a change-feed row says happened. Every write that matters to another process appends one,
    in the same transaction as the write."""

    CREATED = "created"
    """A cluster was created."""
    UPDATED = "updated"
    """A cluster's spec, labels or annotations changed, or it was marked for deletion."""
    STATUS = "status"
    """A cluster's status was committed (written by the replica that owns it)."""
    DELETED = "deleted"
    """A cluster left the store (AWS is clean, or it was never created there)."""
    SYNC = "sync"
    """Someone asked for an immediate refresh of a cluster."""
    SETTING = "setting"
    """A setting changed (``name`` is the setting's name)."""
    CREDENTIAL = "credential"
    """A credential was written or deleted (``name`` is ``namespace:name``)."""


class Change(msgspec.Struct, frozen=True, gc=False):
    """One row of the change feed: ``seq`` orders every change of the whole store."""

    seq: int
    kind: ChangeKind
    name: str
    at: float
    """When it was committed, in seconds since the epoch (the store's clock)."""


class RawCluster(msgspec.Struct, frozen=True, gc=False):
    """A stored cluster, still encoded: what a replica needs to start its actor without decoding it
    (the actor decodes it when its first message arrives)."""

    name: str
    phase: str
    """``status.phase`` (the latest written, flushed or not)."""
    data: bytes
    """The ``Cluster`` as JSON (metadata, spec and status)."""


class Fence(msgspec.Struct, frozen=True, gc=False):
    """The lease a write is made under: the write lands only if, in the same transaction, ``owner``
    still holds ``shard`` at ``epoch`` and the lease has not expired. A replica that lost its lease
    (a pause, a partition) can then write nothing for that shard, whatever it still believes."""

    owner: str
    shard: int
    epoch: int


class Lease(msgspec.Struct, frozen=True, gc=False):
    """Who owns one shard. ``epoch`` grows by one whenever the shard changes hands."""

    shard: int
    owner: str
    """The replica id; ``""`` when the shard is free (released, never taken)."""
    epoch: int
    renewed: float
    """The last acquisition or renewal, in seconds since the epoch (the store's clock)."""
    expires: float
    """``renewed`` plus the lease duration; after it, anyone may take the shard."""


class ReplicaRecord(msgspec.Struct, frozen=True, gc=False):
    """A replica's heartbeat row."""

    id: str
    address: str
    """Where its admin API listens (``http://host:port``), for operators."""
    started: float
    heartbeat: float
    """The last heartbeat, in seconds since the epoch (the store's clock)."""


def shard_of(name: str, shards: int) -> int:
    """The shard of cluster ``name`` among ``shards``: a stable hash, the same in every process and
    every release (Python's ``hash`` is salted per process, so it cannot be used)."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards
