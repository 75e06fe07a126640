"""Whole-fleet export and import for ``store copy`` (SQLite): rows written as they are, not as new writes.

Plain functions run on the writer's (or reader's) thread, like ``_sqlite_ops``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from controlplane.api import Credential

from . import _sqlite_feed as feed
from ._codec import ENCODE, SECRET, identity
from ._copy import COUNTED, ClusterImport
from ._crypto import SecretBox, credential_context, secret_context
from ._errors import AlreadyExists
from ._records import ChangeKind, shard_of
from ._sqlite_conn import transaction


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per kind of object (one snapshot)."""
    selects = ", ".join(f"(SELECT count(*) FROM {table})" for table in COUNTED.values())
    row = conn.execute(f"SELECT {selects}").fetchone()
    return dict(zip(COUNTED, (int(n) for n in row), strict=True))


def list_secrets(conn: sqlite3.Connection, box: SecretBox) -> dict[str, dict[str, str]]:
    rows = conn.execute("SELECT name, data FROM secrets ORDER BY name").fetchall()
    return {str(name): SECRET.decode(box.open(data, secret_context(name))) for name, data in rows}


def import_clusters(
    conn: sqlite3.Connection, items: Sequence[ClusterImport], seqs: Sequence[int], shards: int
) -> None:
    """Insert clusters with their metadata, status and events exactly as given (one transaction); the
    statuses get this store's sequence numbers ``seqs``."""
    with transaction(conn):
        for item, seq in zip(items, seqs, strict=True):
            cluster, metadata = item.cluster, item.cluster.metadata
            try:
                conn.execute(
                    "INSERT INTO clusters (name, resource_version, generation, metadata, spec, shard,"
                    " display_name, region, credential) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        metadata.name,
                        int(metadata.resource_version),
                        metadata.generation,
                        ENCODE(metadata),
                        ENCODE(cluster.spec),
                        shard_of(metadata.name, shards),
                        *identity(cluster.spec),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"cluster {metadata.name!r} already exists") from exc
            conn.execute(
                "INSERT INTO cluster_status (name, phase, status, status_seq) VALUES (?, ?, ?, ?)",
                (metadata.name, cluster.status.phase.value, ENCODE(cluster.status), seq),
            )
            conn.executemany(
                "INSERT INTO events (cluster, data) VALUES (?, ?)",
                [(metadata.name, ENCODE(event)) for event in item.events],
            )
        feed.append_changes(conn, ChangeKind.CREATED, [i.cluster.metadata.name for i in items], feed.now())


def import_credentials(conn: sqlite3.Connection, creds: Sequence[Credential], box: SecretBox) -> None:
    """Insert credentials with their ``created``/``updated`` times as given (one transaction)."""
    with transaction(conn):
        for cred in creds:
            context = credential_context(cred.namespace, cred.name)
            try:
                conn.execute(
                    "INSERT INTO credentials (namespace, name, data) VALUES (?, ?, ?)",
                    (cred.namespace, cred.name, box.seal(ENCODE(cred), context)),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"credential {cred.namespace}/{cred.name} already exists") from exc
        feed.append_changes(
            conn, ChangeKind.CREDENTIAL, [f"{c.namespace}:{c.name}" for c in creds], feed.now()
        )
