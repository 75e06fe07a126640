"""The SQL of the PostgreSQL store's coordination tables: the change feed, replicas, shard leases, fences
and shard assignment.

Time is the database's clock (``now()``, the start of the transaction): replicas on several machines
judge every lease by that one clock, never by their own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import asyncpg

from ._errors import ChangesExpired, Fenced
from ._pg_schema import Connection
from ._records import Change, ChangeKind, Fence, Lease, ReplicaRecord, shard_of

NOW = "extract(epoch FROM now())::float8"
"""SQL: the database's clock in seconds since the epoch."""
_TRIM_LOCK = 0x65_6B_73_63_70_74_72  # "ekscptr": one replica trims at a time
_TRIMMED_THROUGH = "changes.trimmed_through"
_SHARDS = "shards"

_APPEND = f"""
WITH head AS (
    UPDATE feed_head SET seq = seq + cardinality($2::text[])
    RETURNING seq - cardinality($2::text[]) AS base
)
INSERT INTO changes (seq, kind, name, at)
SELECT head.base + n.i, $1, n.name, {NOW}
FROM head, unnest($2::text[]) WITH ORDINALITY AS n(name, i)
"""
APPEND_CTE = f"""
head AS (
    UPDATE feed_head SET seq = seq + (SELECT count(*) FROM written)
    RETURNING seq - (SELECT count(*) FROM written) AS base
),
appended AS (
    INSERT INTO changes (seq, kind, name, at)
    SELECT head.base + w.i, 'status', w.name, {NOW}
    FROM head, (SELECT name, row_number() OVER (ORDER BY name) AS i FROM written) AS w
)
"""
"""CTEs appending a ``status`` change per row of a ``written`` CTE (for the status batch statement)."""

_HELD = f"""
SELECT l.shard, l.owner, l.epoch
FROM leases AS l
JOIN unnest($1::integer[], $2::text[], $3::bigint[]) AS f(shard, owner, epoch)
  ON l.shard = f.shard AND l.owner = f.owner AND l.epoch = f.epoch
WHERE l.expires > {NOW}
ORDER BY l.shard
FOR SHARE OF l
"""


# --- fences ---------------------------------------------------------------------------------------------
async def held_fences(conn: Connection, fences: Collection[Fence]) -> set[Fence]:
    """Inside a write transaction: which of ``fences`` still hold. Their lease rows stay share-locked
    until the transaction ends, so nobody can take the shard over between this check and the commit
    (a taker's UPDATE waits for us; if it came first, the lock waits for it and re-checks the row).
    Locked in shard order, as every lease writer does, so two writers never deadlock on leases."""
    if not fences:
        return set()
    unique = sorted(set(fences), key=lambda f: (f.shard, f.owner, f.epoch))
    rows = await conn.fetch(
        _HELD, [f.shard for f in unique], [f.owner for f in unique], [f.epoch for f in unique]
    )
    return {Fence(str(r["owner"]), int(r["shard"]), int(r["epoch"])) for r in rows}


async def check_fence(conn: Connection, fence: Fence | None) -> None:
    """Inside a write transaction: raise ``Fenced`` unless ``fence`` (if any) still holds."""
    if fence is not None and not await held_fences(conn, [fence]):
        raise Fenced(
            f"lease of shard {fence.shard} at epoch {fence.epoch} is no longer held by {fence.owner}"
        )


# --- the change feed ------------------------------------------------------------------------------------
async def append_changes(conn: Connection, kind: ChangeKind, names: Iterable[str]) -> None:
    """Inside a write transaction, as its last statement (the feed's row lock is held until commit)."""
    listed = list(names)
    if listed:
        await conn.execute(_APPEND, kind.value, listed)


async def head(conn: Connection) -> int:
    """The newest sequence number ever assigned (0 for a new store), trimmed or not."""
    return int(await conn.fetchval("SELECT seq FROM feed_head"))


async def changes_since(conn: Connection, after: int, limit: int) -> list[Change]:
    """Up to ``limit`` changes with ``seq > after``, oldest first; ``ChangesExpired`` if some of them were
    trimmed already. One statement, so one snapshot: a concurrent trim cannot slip between the checks."""
    rows = await conn.fetch(
        """
        SELECT t.trimmed, c.seq, c.kind, c.name, c.at
        FROM (SELECT COALESCE((SELECT value::bigint FROM meta WHERE key = $3), 0) AS trimmed) AS t
        LEFT JOIN (SELECT seq, kind, name, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2) AS c
          ON true
        ORDER BY c.seq
        """,
        after,
        limit,
        _TRIMMED_THROUGH,
    )
    trimmed = int(rows[0]["trimmed"])
    if after < trimmed:
        raise ChangesExpired(after, trimmed)
    return [
        Change(int(r["seq"]), ChangeKind(r["kind"]), str(r["name"]), float(r["at"]))
        for r in rows
        if r["seq"] is not None
    ]


async def trim_changes(conn: Connection, retention: float) -> int:
    """Delete changes committed more than ``retention`` seconds ago (by the database's clock); returns
    how many. The trimmed-through mark only grows, and trims of several replicas take turns."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _TRIM_LOCK)
        cut = await conn.fetchval(f"SELECT max(seq) FROM changes WHERE at < {NOW} - $1", retention)
        if cut is None:
            return 0
        status = await conn.execute("DELETE FROM changes WHERE seq <= $1", cut)
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE"
            " SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text",
            _TRIMMED_THROUGH,
            str(cut),
        )
    return int(status.split()[-1])


# --- shards ---------------------------------------------------------------------------------------------
async def assign_shards(conn: Connection, shards: int) -> int:
    """Give every cluster its shard for ``shards`` shards (all rows if the count changed since the last
    open, else only rows not assigned yet). Returns how many rows were (re)assigned. Call inside the
    open's transaction (under the migration lock)."""
    recorded = await conn.fetchval("SELECT value FROM meta WHERE key = $1", _SHARDS)
    where = "" if recorded is None or int(recorded) != shards else " WHERE shard < 0"
    names = [str(r["name"]) for r in await conn.fetch(f"SELECT name FROM clusters{where}")]
    if names:
        await conn.execute(
            "UPDATE clusters SET shard = u.shard FROM unnest($1::text[], $2::integer[]) AS u(name, shard)"
            " WHERE clusters.name = u.name",
            names,
            [shard_of(n, shards) for n in names],
        )
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        _SHARDS,
        str(shards),
    )
    return len(names)


async def count_clusters_by_shard(conn: Connection) -> dict[int, int]:
    rows = await conn.fetch("SELECT shard, count(*) FROM clusters GROUP BY shard")
    return {int(r[0]): int(r[1]) for r in rows}


# --- replicas -------------------------------------------------------------------------------------------
async def heartbeat(conn: Connection, replica_id: str, address: str, started: float) -> float:
    at = await conn.fetchval(
        f"INSERT INTO replicas (id, address, started, heartbeat) VALUES ($1, $2, $3, {NOW})"
        " ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat = excluded.heartbeat"
        " RETURNING heartbeat",
        replica_id,
        address,
        started,
    )
    return float(at)


async def list_replicas(conn: Connection) -> list[ReplicaRecord]:
    rows = await conn.fetch("SELECT id, address, started, heartbeat FROM replicas ORDER BY id")
    return [ReplicaRecord(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]


async def remove_replica(conn: Connection, replica_id: str) -> None:
    await conn.execute("DELETE FROM replicas WHERE id = $1", replica_id)


# --- leases ---------------------------------------------------------------------------------------------
_LEASE_COLUMNS = "shard, owner, epoch, renewed, expires"
_LOCK_LEASES = "SELECT shard FROM leases WHERE shard = ANY($1::integer[]) ORDER BY shard FOR UPDATE"


def _leases(rows: Iterable[asyncpg.Record]) -> list[Lease]:
    out = [
        Lease(int(r["shard"]), str(r["owner"]), int(r["epoch"]), float(r["renewed"]), float(r["expires"]))
        for r in rows
    ]
    return sorted(out, key=lambda lease: lease.shard)


async def list_leases(conn: Connection) -> list[Lease]:
    return _leases(await conn.fetch(f"SELECT {_LEASE_COLUMNS} FROM leases ORDER BY shard"))


async def acquire_leases(conn: Connection, owner: str, shards: list[int], duration: float) -> list[Lease]:
    """Take every shard of ``shards`` that is free, expired or already ours; a change of owner bumps the
    epoch (a shard never leased before starts at epoch 1). Returns the leases now held by ``owner``."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO leases (shard, owner, epoch, renewed, expires)"
            " SELECT s, '', 0, 0, 0 FROM unnest($1::integer[]) AS s ON CONFLICT (shard) DO NOTHING",
            shards,
        )
        await conn.execute(_LOCK_LEASES, shards)
        rows = await conn.fetch(
            f"""
            UPDATE leases SET
                epoch = CASE WHEN owner = $1 THEN epoch ELSE epoch + 1 END,
                owner = $1, renewed = {NOW}, expires = {NOW} + $3
            WHERE shard = ANY($2::integer[]) AND (owner = $1 OR owner = '' OR expires <= {NOW})
            RETURNING {_LEASE_COLUMNS}
            """,
            owner,
            shards,
            duration,
        )
    return _leases(rows)


async def renew_leases(conn: Connection, owner: str, held: Mapping[int, int], duration: float) -> list[Lease]:
    """Extend the leases ``owner`` still holds at the given epochs (shard -> epoch), expired or not, as
    long as nobody took them meanwhile. Returns the renewed ones; a missing shard was lost."""
    shards = sorted(held)
    async with conn.transaction():
        await conn.execute(_LOCK_LEASES, shards)
        rows = await conn.fetch(
            f"""
            UPDATE leases AS l SET renewed = {NOW}, expires = {NOW} + $4
            FROM unnest($2::integer[], $3::bigint[]) AS h(shard, epoch)
            WHERE l.shard = h.shard AND l.epoch = h.epoch AND l.owner = $1
            RETURNING l.shard, l.owner, l.epoch, l.renewed, l.expires
            """,
            owner,
            shards,
            [held[s] for s in shards],
            duration,
        )
    return _leases(rows)


async def release_leases(conn: Connection, owner: str, shards: list[int]) -> None:
    """Give shards up at once (a graceful hand-over): free, expired now, epoch kept for the next owner."""
    async with conn.transaction():
        await conn.execute(_LOCK_LEASES, shards)
        await conn.execute(
            f"UPDATE leases SET owner = '', expires = {NOW} WHERE shard = ANY($2::integer[]) AND owner = $1",
            owner,
            shards,
        )
