"""Store tuning knobs, shared by every backend (a backend ignores the ones that mean nothing to it)."""

from __future__ import annotations

from typing import Literal

import msgspec

_SCHEMES = ("sqlite", "postgresql", "postgres")


class StoreSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the store is, how it batches status writes, bounds event logs and waits for locks."""

    url: str = ""
    """``sqlite:///PATH`` or ``postgresql://USER@HOST:PORT/DB``. Empty: ``sqlite:///<data_dir>/controlplane.db``.
    A password in it is never logged (URLs are printed redacted)."""

    secret_key_file: str = ""
    """The key that encrypts credentials and secrets at rest (32 random bytes, base64). Empty: for SQLite
    ``<data_dir>/secret.key``, generated (mode 0600) when absent; PostgreSQL requires it, the same file
    on every replica."""

    pool_size: int = 10
    """PostgreSQL: most connections this process keeps open for reads and writes, plus one that listens
    for notifications and up to two kept for heartbeats and leases (so that no renewal queues behind
    actor work). Keep ``replicas * (pool_size + 3)`` under ``max_connections``."""

    sqlite_readers: int = 2
    """SQLite: read-only connections, each on a thread of its own (the writer has one more). A read goes
    to the least busy, so a point read does not wait behind a long scan such as a page of 500 clusters."""

    flush_interval: float = 0.05
    """Seconds a non-durable status write may wait before its batch is committed (the batching window)."""

    max_batch: int = 2000
    """Most status rows committed in one transaction; a larger backlog is flushed in several batches."""

    max_pending: int = 10_000
    """Most clusters with a status waiting to be flushed; beyond it, writers of new clusters wait for a
    flush (backpressure), so memory stays bounded whatever the write rate."""

    events_per_cluster: int = 100
    """Events kept per cluster; appending beyond it drops the oldest."""

    busy_timeout: float = 5.0
    """Seconds to wait for a lock held by another connection before failing."""

    synchronous: Literal["normal", "full"] = "normal"
    """SQLite ``synchronous`` for ordinary commits. ``normal`` (with WAL) never corrupts and loses nothing
    on a process crash; a power loss may roll back the newest commits not yet covered by an fsync.
    Durable status writes always fsync (they commit with ``FULL``), and that fsync covers every commit
    before them. ``full`` fsyncs every commit."""

    change_retention: float = 600.0
    """Seconds the change feed keeps a change; a follower (a replica, a watch) further behind re-lists."""

    feed_poll_interval: float = 0.05
    """Seconds between looks at the change feed for changes made by other processes (SQLite has no
    notifications across processes; PostgreSQL's LISTEN/NOTIFY wakes followers sooner)."""

    def __post_init__(self) -> None:
        if self.flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if self.max_pending < self.max_batch:
            raise ValueError("max_pending must be at least max_batch")
        if self.events_per_cluster < 1:
            raise ValueError("events_per_cluster must be at least 1")
        if self.busy_timeout < 0:
            raise ValueError("busy_timeout must not be negative")
        if self.change_retention <= 0 or self.feed_poll_interval <= 0:
            raise ValueError("change_retention and feed_poll_interval must be positive")
        if self.sqlite_readers < 1:
            raise ValueError("sqlite_readers must be at least 1")
        if self.pool_size < 2:
            raise ValueError("pool_size must be at least 2 (status flushes and reads each need one)")
        scheme = self.url.partition(":")[0].lower()
        if self.url and scheme not in _SCHEMES:
            # Only the scheme is named: the rest of a URL may hold a password.
            raise ValueError(f"url must start with sqlite:/// or postgresql:// (got a {scheme!r} URL)")
