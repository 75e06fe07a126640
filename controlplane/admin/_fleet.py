"""``GET /v1/fleet``: fleet totals from the store's aggregate queries, never a scan of every cluster.

Support dates are Amazon EKS's Kubernetes version calendar (standard support ends 14 months after a
version's release on EKS, extended support 12 months later). A version missing from the table (newer
than this release) counts as supported.
"""

from __future__ import annotations

import datetime as dt
import time

import msgspec
from aiohttp import web

from .. import metrics
from ..store import FleetTotals
from ._http import json_response
from ._keys import REPLICA, STORE

SUPPORT_END: dict[str, tuple[dt.date, dt.date]] = {
    "1.23": (dt.date(2023, 10, 11), dt.date(2024, 10, 11)),
    "1.24": (dt.date(2024, 1, 31), dt.date(2025, 1, 31)),
    "1.25": (dt.date(2024, 5, 1), dt.date(2025, 5, 1)),
    "1.26": (dt.date(2024, 6, 11), dt.date(2025, 6, 11)),
    "1.27": (dt.date(2024, 7, 24), dt.date(2025, 7, 24)),
    "1.28": (dt.date(2024, 11, 26), dt.date(2025, 11, 26)),
    "1.29": (dt.date(2025, 3, 23), dt.date(2026, 3, 23)),
    "1.30": (dt.date(2025, 7, 23), dt.date(2026, 7, 23)),
    "1.31": (dt.date(2025, 11, 26), dt.date(2026, 11, 26)),
    "1.32": (dt.date(2026, 3, 23), dt.date(2027, 3, 23)),
    "1.33": (dt.date(2026, 7, 29), dt.date(2027, 7, 29)),
    "1.34": (dt.date(2026, 12, 2), dt.date(2027, 12, 2)),
}
"""Kubernetes version -> (end of standard support, end of extended support) on Amazon EKS."""

_OLDEST_KNOWN = (1, 23)
LAG_THRESHOLDS = (60, 300, 900, 3600)
"""Seconds: the refresh-lag buckets ``/v1/fleet`` counts."""
CACHE_SECONDS = 1.0
"""Answers are reused this long: a console polling every few seconds costs one aggregate query."""
_CACHE = web.AppKey("fleet_cache", dict)


def support_status(version: str, today: dt.date) -> str:
    """``standard``, ``extended`` (past standard support), ``ended`` (past extended support) or
    ``unknown`` (not a version)."""
    dates = SUPPORT_END.get(version)
    if dates is None:
        major, _, minor = version.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            return "unknown"
        # Older than the table: long past every support window. Newer: released after this table.
        return "ended" if (int(major), int(minor)) < _OLDEST_KNOWN else "standard"
    standard, extended = dates
    if today > extended:
        return "ended"
    return "extended" if today > standard else "standard"


class RefreshLag(msgspec.Struct, rename="camel"):
    oldest_sync_time: str
    """The least recent ``lastSyncTime`` of the clusters synced at least once ("" if none)."""
    max_seconds: float
    """Seconds since that oldest sync (0 if none)."""
    never_synced: int
    older_than: dict[str, int]
    """``{"60": clusters last synced more than 60 s ago, ...}``."""


class FleetSummary(msgspec.Struct, rename="camel"):
    """``GET /v1/fleet``."""

    total: int
    by_phase: dict[str, int]
    """Clusters per phase (``new`` before the first pass)."""
    by_version: dict[str, int]
    """Clusters per Kubernetes version (``unknown`` until the first refresh of an unmanaged version)."""
    conflict: int
    """Clusters with a ``Conflict`` condition (a field changed both here and in AWS)."""
    failing: int
    """Clusters with a non-empty failureMessage."""
    extended_support: int
    """Clusters on a version past EKS standard support (billed as extended support)."""
    past_extended_support: int
    """Clusters on a version past EKS extended support (AWS upgrades them automatically)."""
    refresh_lag: RefreshLag
    aws_calls_total: float
    """AWS calls made by this replica since it started (a counter: its rate is the call rate)."""
    replica: str
    """The replica that answered (``awsCallsTotal`` is this replica's)."""
    time: float
    """When the totals were computed, in seconds since the epoch."""


def _seconds_since(timestamp: str, now: float) -> float:
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max(0.0, now - then.timestamp())


def summarize_totals(totals: FleetTotals, *, now: float, aws_calls: float, replica: str) -> FleetSummary:
    """The answer of ``/v1/fleet`` from the store's counts (pure)."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    support = {"extended": 0, "ended": 0}
    for version, count in totals.by_version.items():
        state = support_status(version, today)
        if state in support:
            support[state] += count
    return FleetSummary(
        total=totals.total,
        by_phase={(phase or "new"): n for phase, n in sorted(totals.by_phase.items())},
        by_version={(v or "unknown"): n for v, n in sorted(totals.by_version.items())},
        conflict=totals.conflict,
        failing=totals.failing,
        extended_support=support["extended"],
        past_extended_support=support["ended"],
        refresh_lag=RefreshLag(
            oldest_sync_time=totals.oldest_sync,
            max_seconds=_seconds_since(totals.oldest_sync, now) if totals.oldest_sync else 0.0,
            never_synced=totals.never_synced,
            older_than={str(k): v for k, v in sorted(totals.sync_older_than.items())},
        ),
        aws_calls_total=aws_calls,
        replica=replica,
        time=now,
    )


def aws_calls_total() -> float:
    """This process's AWS calls so far (``controlplane_aws_requests_total``, every label summed)."""
    return sum(
        s.value
        for family in metrics.AWS_REQUESTS.collect()
        for s in family.samples
        if s.name.endswith("_total")
    )


async def fleet(request: web.Request) -> web.Response:
    cache = request.app[_CACHE]
    now = time.time()
    cached = cache.get("answer")
    if cached is None or now - cached.time > CACHE_SECONDS:
        totals = await request.app[STORE].fleet_totals(sync_older_than=LAG_THRESHOLDS)
        now = time.time()
        cached = summarize_totals(
            totals, now=now, aws_calls=aws_calls_total(), replica=request.app[REPLICA].replica_id
        )
        cache["answer"] = cached
    return json_response(cached)


def install(app: web.Application) -> None:
    app[_CACHE] = {}
    app.router.add_get("/v1/fleet", fleet)
