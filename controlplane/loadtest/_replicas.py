"""Several replicas in one load test: their ids, waiting for an even split, and who wrote what."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

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
_EXPIRES = "SELECT MAX(expires) FROM leases WHERE owner = "


def _sqlite_rows(db: Path, query: str, args: tuple[Any, ...]) -> list[Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


async def _pg_rows(url: str, query: str, args: tuple[Any, ...]) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def _rows(
    data_dir: Path, store_url: str | None, queries: tuple[str, str], args: tuple[Any, ...] = ()
) -> list[Any]:
    """One read straight from the store, on a connection of its own: the SQLite file under ``data_dir``
    (read-only; ``queries[0]``) or the PostgreSQL database at ``store_url`` (``queries[1]``)."""
    sqlite_query, pg_query = queries
    if store_url is not None:
        return await _pg_rows(store_url, pg_query, args)
    return await asyncio.to_thread(_sqlite_rows, data_dir / "controlplane.db", sqlite_query, args)


async def status_seqs(data_dir: Path, store_url: str | None, written_by: str | None = None) -> dict[str, int]:
    """The sequence number of each cluster's committed status, read straight from the store, so that 50,000
    clusters need no API listing. A status write always raises its row's number.

    ``written_by`` keeps only the clusters whose status names that replica. That decodes every status
    (3.3 KB of JSON each: 1.6 s of PostgreSQL's CPU at 50,000), so poll without it: then no status is
    read at all."""
    if written_by is None:
        rows = await _rows(data_dir, store_url, (_SEQS, _SEQS))
    else:
        filtered = (f"{_SEQS} WHERE {_BY_REPLICA}", f"{_SEQS} WHERE {_BY_REPLICA_PG}")
        rows = await _rows(data_dir, store_url, filtered, (written_by,))
    return {row[0]: int(row[1]) for row in rows}


async def leases_expire(data_dir: Path, store_url: str | None, owner: str) -> float | None:
    """When the last lease ``owner`` holds expires, in seconds since the epoch by the store's clock (this
    machine's wall clock: the harness runs its store here); None if it holds none."""
    ((value,),) = await _rows(data_dir, store_url, (_EXPIRES + "?", _EXPIRES + "$1"), (owner,))
    return None if value is None else float(value)
