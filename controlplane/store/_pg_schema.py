"""The PostgreSQL schema as an ordered list of migrations; ``schema_version`` records how many ran.

Never edit a released migration: append a new one. ``migrate`` runs at every open, in one transaction
that first takes a transaction-scoped advisory lock: replicas starting at once queue on it, the first
creates or migrates the schema, the others then find it current. PostgreSQL DDL is transactional, so a
failed migration (or a wrong secret key, checked in the same transaction) leaves everything as it was.

Column types: JSON documents are ``bytea`` (msgspec-encoded bytes, sent and stored as they are: the server
never parses them, and the binary protocol copies them once); times are ``float8`` seconds since the epoch
of the database's clock, as the records carry them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import asyncpg

from ._errors import StoreError

MIGRATION_LOCK = 0x65_6B_73_63_70_6D_67  # "ekscpmg": one advisory-lock key for every replica's migration

_V1 = (
    """CREATE TABLE clusters (
        name text PRIMARY KEY,
        resource_version bigint NOT NULL,
        generation bigint NOT NULL,
        metadata bytea NOT NULL,
        spec bytea NOT NULL,
        shard integer NOT NULL DEFAULT -1,
        display_name text NOT NULL DEFAULT '',
        region text NOT NULL DEFAULT '',
        credential text NOT NULL DEFAULT '')""",
    "CREATE INDEX clusters_shard ON clusters (shard, name)",
    "CREATE INDEX clusters_identity ON clusters (display_name, region)",
    # Status apart from spec and metadata: it is the hot write path, and an UPDATE writes a new version
    # of the whole row (the spec is mostly TOASTed, but the status table's rows stay small and HOT).
    """CREATE TABLE cluster_status (
        name text PRIMARY KEY,
        phase text NOT NULL,
        status bytea NOT NULL,
        status_seq bigint NOT NULL DEFAULT 0)""",
    "CREATE INDEX cluster_status_phase ON cluster_status (phase)",
    # lz4 instead of the default pglz for the JSON documents (several KB each): a status batch commits
    # about a third faster. Only an optimization: a server built without lz4 keeps pglz.
    """DO $$ BEGIN
        ALTER TABLE cluster_status ALTER COLUMN status SET COMPRESSION lz4;
        ALTER TABLE clusters ALTER COLUMN spec SET COMPRESSION lz4;
    EXCEPTION WHEN OTHERS THEN NULL; END $$""",
    """CREATE TABLE events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        cluster text NOT NULL,
        data bytea NOT NULL)""",
    "CREATE INDEX events_cluster ON events (cluster, id)",
    """CREATE TABLE credentials (
        namespace text NOT NULL,
        name text NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (namespace, name))""",
    "CREATE TABLE settings (name text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE secrets (name text PRIMARY KEY, data bytea NOT NULL)",
    # The change feed. Sequence numbers come from the single row of feed_head, incremented in the writing
    # transaction as its last statement: the row lock makes feed-appending transactions commit in seq
    # order, so a follower that read up to N never later finds a row below N committed (a bigserial
    # would hand out numbers at insert time, and a slow transaction could commit a lower one later).
    # feed_head.seq is also the head: the newest number ever assigned, trimmed or not.
    "CREATE TABLE feed_head (one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL)",
    "INSERT INTO feed_head (seq) VALUES (0)",
    """CREATE TABLE changes (
        seq bigint PRIMARY KEY,
        kind text NOT NULL,
        name text NOT NULL,
        at float8 NOT NULL)""",
    "CREATE INDEX changes_at ON changes (at)",
    # NOTIFY is only a wake-up hint for followers in other processes (they poll regardless); a statement
    # trigger sends it with no extra round trip, and PostgreSQL folds a transaction's duplicates into one.
    """CREATE FUNCTION controlplane_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('controlplane_changes', ''); RETURN NULL; END $$""",
    """CREATE TRIGGER changes_notify AFTER INSERT ON changes
        FOR EACH STATEMENT EXECUTE FUNCTION controlplane_notify_changes()""",
    """CREATE TABLE replicas (
        id text PRIMARY KEY,
        address text NOT NULL,
        started float8 NOT NULL,
        heartbeat float8 NOT NULL)""",
    """CREATE TABLE leases (
        shard integer PRIMARY KEY,
        owner text NOT NULL,
        epoch bigint NOT NULL,
        renewed float8 NOT NULL,
        expires float8 NOT NULL)""",
    "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)",
)

MIGRATIONS: Sequence[Sequence[str]] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)
NOTIFY_CHANNEL = "controlplane_changes"

Connection: TypeAlias = "asyncpg.Connection | asyncpg.pool.PoolConnectionProxy"
"""A connection of our own (migrations, LISTEN) or one borrowed from the pool."""


async def schema_version(conn: Connection) -> int:
    """The version recorded in the database (0 for an empty database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    found = await conn.fetchval("SELECT version FROM schema_version")
    return 0 if found is None else int(found)


async def migrate(
    conn: Connection,
    *,
    target: int = SCHEMA_VERSION,
    then: Callable[[Connection], Awaitable[Any]] | None = None,
) -> int:
    """Bring the database to ``target`` under the migration lock, in one transaction; return the version
    found before. A database newer than this code is refused: old code must not write data it does not
    understand. ``then`` runs in the same transaction once the schema is current (the key check)."""
    async with conn.transaction():
        # Wait for another replica's migration however long it takes (not just busy_timeout).
        await conn.execute("SET LOCAL lock_timeout = 0")
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        found = await schema_version(conn)
        if found > len(MIGRATIONS):
            raise StoreError(
                f"database schema version {found} is newer than this program supports ({len(MIGRATIONS)})"
            )
        if found < target:
            if found == 0:
                await conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
                await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            for migration in MIGRATIONS[found:target]:
                for statement in migration:
                    await conn.execute(statement)
            await conn.execute("UPDATE schema_version SET version = $1", target)
        if then is not None:
            await then(conn)
    return found
