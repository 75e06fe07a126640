"""Several replicas in one load test: their ids, waiting for an even split, and who wrote what."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import asyncpg

from ._clients import AdminClient

SHARDS = 256


def replica_id(index: int) -> str:
    return f"load-r{index + 1}"


async def wait_balanced(admin: AdminClient, replicas: int, *, within: float) -> None:
    """Until ``replicas`` replicas are alive and share every shard evenly (counts differ by one)."""
    deadline = time.monotonic() + within
    while True:
        items = (await admin.request("GET", "/v1/replicas"))["items"]
        counts = [len(r["shards"]) for r in items if r["alive"]]
        if len(counts) == replicas and sum(counts) == SHARDS and max(counts) - min(counts) <= 1:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"replicas not balanced after {within:.0f}s: {counts}")
        await asyncio.sleep(0.2)


def _count(db: Path, replica: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute(
            "SELECT COUNT(*) FROM cluster_status WHERE json_extract(status, '$.replica') = ?", (replica,)
        ).fetchone()
    finally:
        conn.close()
    return int(row[0])


async def _count_pg(url: str, replica: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetchval(
            "SELECT COUNT(*) FROM cluster_status "
            "WHERE convert_from(status, 'UTF8')::jsonb ->> 'replica' = $1",
            replica,
        )
    finally:
        await conn.close()
    return int(found)


async def count_written_by(data_dir: Path, store_url: str | None, replica: str) -> int:
    """Clusters whose committed status was last written by ``replica`` (read straight from the store,
    the SQLite file under ``data_dir`` or the PostgreSQL database at ``store_url``, so that 50,000
    clusters need no API listing)."""
    if store_url is not None:
        return await _count_pg(store_url, replica)
    return await asyncio.to_thread(_count, data_dir / "controlplane.db", replica)
