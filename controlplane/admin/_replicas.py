"""``/v1/replicas``: the replicas sharing the fleet, from the store (any replica answers the same)."""

from __future__ import annotations

import time

import msgspec
from aiohttp import web

from ._http import json_response
from ._keys import REPLICA, STORE


class ReplicaInfo(msgspec.Struct, rename="camel"):
    """One replica as ``GET /v1/replicas`` shows it."""

    id: str
    address: str
    last_heartbeat: str
    """RFC 3339 time of its last heartbeat (the store's clock)."""
    alive: bool
    """Its heartbeat is younger than the lease duration."""
    shards: list[int]
    """Shards whose unexpired lease it holds."""
    clusters: int
    """Clusters in those shards."""


class ReplicaList(msgspec.Struct):
    items: list[ReplicaInfo]


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


async def list_replicas(request: web.Request) -> web.Response:
    store = request.app[STORE]
    view = request.app[REPLICA]
    replicas = await store.list_replicas()
    leases = await store.list_leases()
    counts = await store.count_clusters_by_shard()
    now = time.time()
    items: list[ReplicaInfo] = []
    for r in replicas:
        shards = sorted(lease.shard for lease in leases if lease.owner == r.id and lease.expires > now)
        items.append(
            ReplicaInfo(
                id=r.id,
                address=r.address,
                last_heartbeat=_rfc3339(r.heartbeat),
                alive=now - r.heartbeat < view.lease_duration,
                shards=shards,
                clusters=sum(counts.get(shard, 0) for shard in shards),
            )
        )
    return json_response(ReplicaList(items=items))
