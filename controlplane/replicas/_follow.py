"""Following the store's change feed: the one way news travels between replicas.

Every replica reads every change in order from a cursor and hands it to its router, which acts only on
what concerns it (the clusters of the shards it holds, settings, credentials). A follower that fell
behind the feed's retention re-lists instead (``ChangesExpired``, Kubernetes' 410).
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import anyio

from controlplane.metrics import FEED_LAG_SECONDS, FEED_RESYNCS
from controlplane.store import Change, ChangesExpired, Store, StoreError

log = logging.getLogger("controlplane.replicas")

BATCH = 1000
"""Changes read per query."""
ERROR_PAUSE = 1.0
"""Seconds before reading again after a store error."""


class ChangeRouter(Protocol):
    async def route(self, change: Change) -> None:
        """Act on one change (called in feed order)."""
        ...

    async def resync(self) -> None:
        """Re-read everything the router cares about (changes were missed)."""
        ...


async def follow(store: Store, router: ChangeRouter, *, after: int) -> None:
    """Route every change after ``after``, forever (until cancelled)."""
    cursor = after
    while True:
        try:
            await store.wait_for_change(cursor)
            changes = await store.changes_since(cursor, limit=BATCH)
        except ChangesExpired as exc:
            FEED_RESYNCS.inc()
            log.warning("fell behind the change feed; re-listing", extra={"error": str(exc)})
            cursor = await store.head()
            await router.resync()
            continue
        except StoreError as exc:
            log.warning("reading the change feed failed", extra={"error": str(exc)})
            await anyio.sleep(ERROR_PAUSE)
            continue
        for change in changes:
            await router.route(change)
            FEED_LAG_SECONDS.observe(max(0.0, time.time() - change.at))
        if changes:
            cursor = changes[-1].seq
