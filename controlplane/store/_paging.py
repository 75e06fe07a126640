"""The loop every backend runs for one page of a cluster list: keyset scans of the rows the database
selects, the newest uncommitted status laid over each, then ``matches`` (the filters' definition).
``PagedLists`` gives a backend ``list_page`` (whole clusters) and ``list_digests`` from its ``_scan``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from controlplane.api import Cluster, ClusterDigest

from ._batcher import Pending, StatusBatcher
from ._codec import Row, decode_clusters, decode_digests
from ._query import ClusterPage, ClusterQuery, DigestPage, matches

C = TypeVar("C", bound=Cluster | ClusterDigest)

Decode = Callable[[Sequence[Row]], list[tuple[C, int]]]
"""Rows of ``CLUSTER_COLUMNS`` to items and their status sequence numbers (``decode_clusters``...)."""
Overlay = Callable[[C, int, Pending | None], C]
"""An item with the newest uncommitted status laid over it (``StatusBatcher.overlay``...)."""

_SCAN_AT_LEAST = 100
"""Rows read at a time at least, so that a selective filter the database cannot apply (a status
filter under a pending write) does not cost one read per matching row."""


async def collect_page(
    scan: Callable[[str, int], Awaitable[list[tuple[C, int]]]],
    pending: Callable[[], Mapping[str, Pending]],
    overlay: Overlay[C],
    query: ClusterQuery,
    *,
    after: str,
    limit: int,
) -> tuple[list[C], bool]:
    """Up to ``limit`` items named after ``after`` that ``query`` selects, and whether more follow.

    ``scan(after, n)`` reads up to ``n`` candidate rows named after ``after``, in name order, each with
    its status sequence number; ``pending()`` is captured before each scan (see ``StatusBatcher.latest``).
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    want = limit + 1  # one more than asked tells whether another page follows
    items: list[C] = []
    cursor = after
    while len(items) < want:
        overlays = pending()
        asked = max(want - len(items), min(want, _SCAN_AT_LEAST))
        rows = await scan(cursor, asked)
        for row, seq in rows:
            item = overlay(row, seq, overlays.get(row.metadata.name))
            if matches(query, item):
                items.append(item)
        if len(rows) < asked:
            break
        cursor = rows[-1][0].metadata.name
    return items[:limit], len(items) > limit


class PagedLists:
    """``list_page`` and ``list_digests`` for a backend, which provides ``_scan`` (one read of candidate
    rows, in name order) and its ``_batcher`` (the unflushed statuses)."""

    _batcher: StatusBatcher

    async def _scan(
        self, operation: str, query: ClusterQuery, after: str, limit: int, *, decode: Decode[C]
    ) -> list[tuple[C, int]]:
        raise NotImplementedError

    async def list_page(self, query: ClusterQuery, *, after: str = "", limit: int) -> ClusterPage:
        items, more = await self._page(
            "list_page", decode_clusters, self._batcher.overlay, query, after, limit
        )
        return ClusterPage(items=items, more=more)

    async def list_digests(self, query: ClusterQuery, *, after: str = "", limit: int) -> DigestPage:
        overlay = self._batcher.overlay_digest
        items, more = await self._page("list_digests", decode_digests, overlay, query, after, limit)
        return DigestPage(items=items, more=more)

    async def _page(  # noqa: PLR0917 - private, called twice just above
        self,
        operation: str,
        decode: Decode[C],
        overlay: Overlay[C],
        query: ClusterQuery,
        after: str,
        limit: int,
    ) -> tuple[list[C], bool]:
        async def scan(cursor: str, asked: int) -> list[tuple[C, int]]:
            return await self._scan(operation, query, cursor, asked, decode=decode)

        return await collect_page(scan, self._batcher.snapshot, overlay, query, after=after, limit=limit)
