"""The loop every backend runs for one page of a cluster list: keyset scans of the rows the database
selects, the newest uncommitted status laid over each, then ``matches`` (the filters' definition)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from controlplane.api import Cluster, ClusterDigest

from ._batcher import Pending
from ._query import ClusterQuery, matches

C = TypeVar("C", bound=Cluster | ClusterDigest)

_SCAN_AT_LEAST = 100
"""Rows read at a time at least, so that a selective filter the database cannot apply (a status
filter under a pending write) does not cost one read per matching row."""


async def collect_page(
    scan: Callable[[str, int], Awaitable[list[tuple[C, int]]]],
    pending: Callable[[], Mapping[str, Pending]],
    overlay: Callable[[C, int, Pending | None], C],
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
