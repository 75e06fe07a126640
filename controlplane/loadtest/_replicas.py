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


_BY_REPLICA = "json_extract(status, '$.replica') = ?"
_BY_REPLICA_PG = "convert_from(status, 'UTF8')::jsonb ->> 'replica' = $1"


_SEQS = "SELECT name, status_seq FROM cluster_status"


def _sqlite_seqs(db: Path, replica: str | None) -> dict[str, int]:
    query, args = (_SEQS, ()) if replica is None else (f"{_SEQS} WHERE {_BY_REPLICA}", (replica,))
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute(query, args).fetchall()
    finally:
        conn.close()
    return {name: int(seq) for name, seq in rows}


async def _pg_seqs(url: str, replica: str | None) -> dict[str, int]:
    query, args = (_SEQS, ()) if replica is None else (f"{_SEQS} WHERE {_BY_REPLICA_PG}", (replica,))
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(query, *args)
    finally:
        await conn.close()
    return {row[0]: int(row[1]) for row in rows}


async def status_seqs(data_dir: Path, store_url: str | None, written_by: str | None = None) -> dict[str, int]:
    """The sequence number of each cluster's committed status, read straight from the store (the SQLite
    file under ``data_dir`` or the PostgreSQL database at ``store_url``), so that 50,000 clusters need no
    API listing. A status write always raises its row's number.

    ``written_by`` keeps only the clusters whose status names that replica. That decodes every status
    (3.3 KB of JSON each: 1.6 s of PostgreSQL's CPU at 50,000), so poll without it: then no status is
    read at all."""
    if store_url is not None:
        return await _pg_seqs(store_url, written_by)
    return await asyncio.to_thread(_sqlite_seqs, data_dir / "controlplane.db", written_by)


_EXPIRES = "SELECT MAX(expires) FROM leases WHERE owner = "


def _sqlite_expires(db: Path, owner: str) -> float | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        (value,) = conn.execute(_EXPIRES + "?", (owner,)).fetchone()
    finally:
        conn.close()
    return None if value is None else float(value)


async def leases_expire(data_dir: Path, store_url: str | None, owner: str) -> float | None:
    """When the last lease ``owner`` holds expires, in seconds since the epoch by the store's clock (this
    machine's wall clock: the harness runs its store here); None if it holds none."""
    if store_url is None:
        return await asyncio.to_thread(_sqlite_expires, data_dir / "controlplane.db", owner)
    conn = await asyncpg.connect(store_url)
    try:
        value = await conn.fetchval(_EXPIRES + "$1", owner)
    finally:
        await conn.close()
    return None if value is None else float(value)
