"""Whole-fleet export and import for ``store copy`` (PostgreSQL): rows written as they are, not as new
writes, a batch per statement (``unnest``)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from controlplane.api import Credential

from . import _pg_feed as feed
from ._codec import ENCODE, SECRET, identity
from ._copy import COUNTED, ClusterImport
from ._crypto import SecretBox, credential_context, secret_context
from ._errors import AlreadyExists
from ._pg_schema import Connection
from ._records import ChangeKind, shard_of


async def counts(conn: Connection) -> dict[str, int]:
    """Rows per kind of object (one statement, so one snapshot)."""
    selects = ", ".join(f"(SELECT count(*) FROM {table})" for table in COUNTED.values())
    row = await conn.fetchrow(f"SELECT {selects}")
    assert row is not None
    return dict(zip(COUNTED, (int(n) for n in row), strict=True))


async def list_secrets(conn: Connection, box: SecretBox) -> dict[str, dict[str, str]]:
    rows = await conn.fetch("SELECT name, data FROM secrets ORDER BY name")
    return {str(r[0]): SECRET.decode(box.open(r[1], secret_context(r[0]))) for r in rows}


async def import_clusters(
    conn: Connection, items: Sequence[ClusterImport], seqs: Sequence[int], shards: int
) -> None:
    """Insert clusters with their metadata, status and events exactly as given (one transaction); the
    statuses get this store's sequence numbers ``seqs``."""
    clusters = [item.cluster for item in items]
    names = [c.metadata.name for c in clusters]
    identities = [identity(c.spec) for c in clusters]
    async with conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO clusters (name, resource_version, generation, metadata, spec, shard,"
                " display_name, region, credential) SELECT * FROM unnest($1::text[], $2::bigint[],"
                " $3::bigint[], $4::bytea[], $5::bytea[], $6::integer[], $7::text[], $8::text[], $9::text[])",
                names,
                [int(c.metadata.resource_version) for c in clusters],
                [c.metadata.generation for c in clusters],
                [ENCODE(c.metadata) for c in clusters],
                [ENCODE(c.spec) for c in clusters],
                [shard_of(n, shards) for n in names],
                [i[0] for i in identities],
                [i[1] for i in identities],
                [i[2] for i in identities],
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"a cluster of this batch already exists ({exc.args[0]})") from None
        await conn.execute(
            "INSERT INTO cluster_status (name, phase, status, status_seq)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[])",
            names,
            [c.status.phase.value for c in clusters],
            [ENCODE(c.status) for c in clusters],
            list(seqs),
        )
        events = [(item.cluster.metadata.name, ENCODE(event)) for item in items for event in item.events]
        if events:
            # Ordered, so the identity column numbers them oldest first, as the source listed them.
            await conn.execute(
                "INSERT INTO events (cluster, data) SELECT e.cluster, e.data"
                " FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS e(cluster, data, i) ORDER BY e.i",
                [e[0] for e in events],
                [e[1] for e in events],
            )
        await feed.append_changes(conn, ChangeKind.CREATED, names)


async def import_credentials(conn: Connection, creds: Sequence[Credential], box: SecretBox) -> None:
    """Insert credentials with their ``created``/``updated`` times as given (one transaction)."""
    async with conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO credentials (namespace, name, data)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])",
                [c.namespace for c in creds],
                [c.name for c in creds],
                [box.seal(ENCODE(c), credential_context(c.namespace, c.name)) for c in creds],
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"a credential already exists ({exc.args[0]})") from None
        await feed.append_changes(conn, ChangeKind.CREDENTIAL, [f"{c.namespace}:{c.name}" for c in creds])
