"""Store tuning knobs, shared by every backend (a backend ignores the ones that mean nothing to it)."""

from __future__ import annotations

from typing import Literal

import msgspec


class StoreSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the store batches status writes, bounds event logs and waits for locks."""

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
