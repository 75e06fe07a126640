"""The SQL of the PostgreSQL store's clusters, statuses, events, credentials, settings and secrets.

Each function takes a connection borrowed from the pool. A write that must be atomic runs in one
transaction; it appends to the change feed as its last statement (see ``_pg_feed.append_changes``).
Rows a write depends on are locked (``FOR UPDATE``/``FOR KEY SHARE``) in the same transaction, so the
checks of SQLite's single writer hold here with many writers: a compare-and-swap reads the row it
replaces under lock, and an event cannot be appended to a cluster being deleted.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from controlplane.api import Cluster, Credential, Event, Metadata

from . import _pg_feed as feed
from ._batcher import StatusRow
from ._codec import (
    CLUSTER_COLUMNS,
    CREDENTIAL,
    ENCODE,
    EVENT,
    RAW_COLUMNS,
    SECRET,
    SPEC,
    RawRow,
    decode_cluster,
    decode_clusters,
    deletion_update,
    identity,
    raw_cluster,
    spec_update,
    with_metadata,
)
from ._crypto import SecretBox, credential_context, secret_context
from ._errors import AlreadyExists, Conflict, NotFound
from ._pg_schema import Connection
from ._records import ChangeKind, Fence, shard_of

_SELECT = f"SELECT {CLUSTER_COLUMNS} FROM clusters AS c JOIN cluster_status AS s ON s.name = c.name"
_WRITE_STATUSES = f"""
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bigint[]) AS i(name, status, phase, seq)
),
written AS (
    UPDATE cluster_status AS s SET status = i.status, phase = i.phase, status_seq = i.seq
    FROM input AS i
    WHERE s.name = i.name AND s.status_seq < i.seq
    RETURNING s.name
),
{feed.APPEND_CTE}
SELECT count(*) FROM written
"""
"""One statement per batch: every status (unless its row holds a newer one) and a ``status`` change
for each row written."""


async def _select_one(conn: Connection, name: str, lock: str = "") -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_SELECT} WHERE c.name = $1 {lock}", name)


async def get_cluster(conn: Connection, name: str) -> tuple[Cluster, int] | None:
    row = await _select_one(conn, name)
    return None if row is None else decode_cluster(row)


async def list_clusters(
    conn: Connection, phase: str | None, extra_names: list[str]
) -> list[tuple[Cluster, int]]:
    if phase is None:
        rows = await conn.fetch(f"{_SELECT} ORDER BY c.name")
    else:
        # Also the rows whose unflushed status is in ``phase`` while the row's phase column is not yet.
        rows = await conn.fetch(
            f"{_SELECT} WHERE s.phase = $1 OR s.name = ANY($2::text[]) ORDER BY c.name", phase, extra_names
        )
    return decode_clusters(rows)


async def list_clusters_in_shards(conn: Connection, shards: list[int]) -> list[tuple[Cluster, int]]:
    rows = await conn.fetch(f"{_SELECT} WHERE c.shard = ANY($1::integer[]) ORDER BY c.name", shards)
    return decode_clusters(rows)


async def list_raw_clusters_in_shards(conn: Connection, shards: list[int]) -> list[RawRow]:
    rows = await conn.fetch(
        f"SELECT {RAW_COLUMNS} FROM clusters AS c JOIN cluster_status AS s ON s.name = c.name"
        " WHERE c.shard = ANY($1::integer[]) ORDER BY c.name",
        shards,
    )
    return [raw_cluster(row) for row in rows]


async def list_cluster_names(conn: Connection) -> list[str]:
    return [str(r[0]) for r in await conn.fetch("SELECT name FROM clusters ORDER BY name")]


async def find_identity(conn: Connection, display_name: str, region: str) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT name, credential FROM clusters WHERE display_name = $1 AND region = $2 ORDER BY name",
        display_name,
        region,
    )
    return {str(r[0]): str(r[1]) for r in rows}


async def max_status_seq(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT COALESCE(max(status_seq), 0) FROM cluster_status"))


async def insert_cluster(conn: Connection, cluster: Cluster, seq: int, shards: int) -> None:
    metadata = cluster.metadata
    async with conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO clusters (name, resource_version, generation, metadata, spec, shard,"
                " display_name, region, credential) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                metadata.name,
                int(metadata.resource_version),
                metadata.generation,
                ENCODE(metadata),
                ENCODE(cluster.spec),
                shard_of(metadata.name, shards),
                *identity(cluster.spec),
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"cluster {metadata.name!r} already exists") from exc
        await conn.execute(
            "INSERT INTO cluster_status (name, phase, status, status_seq) VALUES ($1, $2, $3, $4)",
            metadata.name,
            cluster.status.phase.value,
            ENCODE(cluster.status),
            seq,
        )
        await feed.append_changes(conn, ChangeKind.CREATED, [metadata.name])


async def _write_metadata(
    conn: Connection, row: Any, metadata: Metadata, spec_json: bytes
) -> tuple[Any, ...]:
    written = with_metadata(row, metadata, spec_json)
    await conn.execute(
        "UPDATE clusters SET resource_version = $1, generation = $2, metadata = $3, spec = $4,"
        " display_name = $5, region = $6, credential = $7 WHERE name = $8",
        *written[1:5],
        *identity(SPEC.decode(spec_json)),
        row[0],
    )
    await feed.append_changes(conn, ChangeKind.UPDATED, [row[0]])
    return written


async def update_spec(
    conn: Connection,
    *,
    name: str,
    spec_json: bytes,
    labels: dict[str, str] | None,
    annotations: dict[str, str] | None,
    expected: str | None,
    fence: Fence | None,
) -> tuple[Cluster, int]:
    async with conn.transaction():
        await feed.check_fence(conn, fence)
        row: Any = await _select_one(conn, name, "FOR UPDATE OF c")
        if row is None:
            raise NotFound(f"cluster {name!r} not found")
        current = str(row[1])
        if expected is not None and expected != current:
            raise Conflict(name, expected, current)
        update = spec_update(row, spec_json, labels, annotations)
        if update is not None:
            row = await _write_metadata(conn, row, *update)
    return decode_cluster(row)


async def mark_deleting(conn: Connection, name: str, now: str) -> tuple[Cluster, int]:
    async with conn.transaction():
        row: Any = await _select_one(conn, name, "FOR UPDATE OF c")
        if row is None:
            raise NotFound(f"cluster {name!r} not found")
        metadata = deletion_update(row, now)
        if metadata is not None:
            row = await _write_metadata(conn, row, metadata, bytes(row[4]))
    return decode_cluster(row)


async def delete_cluster(conn: Connection, name: str, fence: Fence | None) -> bool:
    async with conn.transaction():
        await feed.check_fence(conn, fence)
        deleted = await conn.fetchval("DELETE FROM clusters WHERE name = $1 RETURNING true", name)
        await conn.execute("DELETE FROM cluster_status WHERE name = $1", name)
        await conn.execute("DELETE FROM events WHERE cluster = $1", name)
        if deleted:
            await feed.append_changes(conn, ChangeKind.DELETED, [name])
    return bool(deleted)


async def write_statuses(
    conn: Connection, rows: list[StatusRow], durable: bool, synchronous: str
) -> list[str]:
    """Commit the statuses in one transaction, each only if its row is older and its fence (if any)
    still holds; append a ``status`` change per row written. Returns the names refused by a fence."""
    async with conn.transaction():
        if not durable and synchronous == "normal":
            # Nobody waits on this batch: a server crash may lose it (the actor writes again), never
            # corrupt. Durable batches wait for the WAL flush, which covers every commit before them.
            await conn.execute("SET LOCAL synchronous_commit = off")
        held = await feed.held_fences(conn, {fence for *_, fence in rows if fence is not None})
        fenced = [name for _, _, _, name, fence in rows if fence is not None and fence not in held]
        keep = sorted((r for r in rows if r[4] is None or r[4] in held), key=lambda r: r[3])
        if keep:
            await conn.execute(
                _WRITE_STATUSES,
                [r[3] for r in keep],
                [r[0] for r in keep],
                [r[1] for r in keep],
                [r[2] for r in keep],
            )
    return fenced


# --- events ---------------------------------------------------------------------------------------------
async def append_event(conn: Connection, name: str, data: bytes, keep: int, fence: Fence | None) -> None:
    async with conn.transaction():
        await feed.check_fence(conn, fence)
        # The key-share lock keeps a concurrent delete from removing the cluster under the new event.
        if await conn.fetchval("SELECT true FROM clusters WHERE name = $1 FOR KEY SHARE", name) is None:
            raise NotFound(f"cluster {name!r} not found")
        await conn.execute(
            """
            WITH added AS (INSERT INTO events (cluster, data) VALUES ($1, $2))
            DELETE FROM events WHERE cluster = $1 AND id <=
                (SELECT id FROM events WHERE cluster = $1 ORDER BY id DESC OFFSET $3 LIMIT 1)
            """,
            name,
            data,
            keep - 1,  # the DELETE's snapshot does not see the new row: keep one fewer of the old ones
        )


async def list_events(conn: Connection, name: str, limit: int) -> list[Event]:
    rows = await conn.fetch(
        "SELECT data FROM (SELECT id, data FROM events WHERE cluster = $1 ORDER BY id DESC LIMIT $2) AS e"
        " ORDER BY id",
        name,
        limit,
    )
    return [EVENT.decode(r[0]) for r in rows]


# --- credentials ----------------------------------------------------------------------------------------
async def put_credential(conn: Connection, cred: Credential, now: str, box: SecretBox) -> Credential:
    context = credential_context(cred.namespace, cred.name)
    async with conn.transaction():
        old = await conn.fetchval(
            "SELECT data FROM credentials WHERE namespace = $1 AND name = $2 FOR UPDATE",
            cred.namespace,
            cred.name,
        )
        created = CREDENTIAL.decode(box.open(old, context)).created if old is not None else ""
        stored = msgspec.structs.replace(cred, created=created or now, updated=now)
        await conn.execute(
            "INSERT INTO credentials (namespace, name, data) VALUES ($1, $2, $3)"
            " ON CONFLICT (namespace, name) DO UPDATE SET data = excluded.data",
            cred.namespace,
            cred.name,
            box.seal(ENCODE(stored), context),
        )
        await feed.append_changes(conn, ChangeKind.CREDENTIAL, [f"{cred.namespace}:{cred.name}"])
    return stored


async def get_credential(conn: Connection, namespace: str, name: str, box: SecretBox) -> Credential | None:
    data = await conn.fetchval(
        "SELECT data FROM credentials WHERE namespace = $1 AND name = $2", namespace, name
    )
    return None if data is None else CREDENTIAL.decode(box.open(data, credential_context(namespace, name)))


async def list_credentials(conn: Connection, box: SecretBox) -> list[Credential]:
    rows = await conn.fetch("SELECT namespace, name, data FROM credentials ORDER BY namespace, name")
    return [CREDENTIAL.decode(box.open(r[2], credential_context(r[0], r[1]))) for r in rows]


async def delete_credential(conn: Connection, namespace: str, name: str) -> bool:
    async with conn.transaction():
        deleted = await conn.fetchval(
            "DELETE FROM credentials WHERE namespace = $1 AND name = $2 RETURNING true", namespace, name
        )
        if deleted:
            await feed.append_changes(conn, ChangeKind.CREDENTIAL, [f"{namespace}:{name}"])
    return bool(deleted)


# --- settings and secrets -------------------------------------------------------------------------------
async def get_setting(conn: Connection, name: str) -> str | None:
    value = await conn.fetchval("SELECT value FROM settings WHERE name = $1", name)
    return None if value is None else str(value)


async def put_setting(conn: Connection, name: str, value: str) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO settings (name, value) VALUES ($1, $2)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            name,
            value,
        )
        await feed.append_changes(conn, ChangeKind.SETTING, [name])


async def list_settings(conn: Connection) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in await conn.fetch("SELECT name, value FROM settings ORDER BY name")}


async def put_secret(conn: Connection, name: str, data: bytes, fence: Fence | None, box: SecretBox) -> None:
    sealed = box.seal(data, secret_context(name))
    async with conn.transaction():
        await feed.check_fence(conn, fence)
        await conn.execute(
            "INSERT INTO secrets (name, data) VALUES ($1, $2)"
            " ON CONFLICT (name) DO UPDATE SET data = excluded.data",
            name,
            sealed,
        )


async def get_secret(conn: Connection, name: str, box: SecretBox) -> dict[str, str] | None:
    data = await conn.fetchval("SELECT data FROM secrets WHERE name = $1", name)
    return None if data is None else SECRET.decode(box.open(data, secret_context(name)))


async def delete_secret(conn: Connection, name: str, fence: Fence | None) -> bool:
    async with conn.transaction():
        await feed.check_fence(conn, fence)
        return bool(await conn.fetchval("DELETE FROM secrets WHERE name = $1 RETURNING true", name))


async def request_sync(conn: Connection, name: str) -> None:
    async with conn.transaction():
        if await conn.fetchval("SELECT true FROM clusters WHERE name = $1 FOR KEY SHARE", name) is None:
            raise NotFound(f"cluster {name!r} not found")
        await feed.append_changes(conn, ChangeKind.SYNC, [name])
