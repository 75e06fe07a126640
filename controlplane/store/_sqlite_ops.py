"""The SQL of the SQLite store: plain functions run on a connection's thread (never on the event loop).

They encode and decode with msgspec on that thread too, so large reads cost the loop nothing but the GIL.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from controlplane.api import Cluster, Credential, Event, Metadata

from . import _sqlite_feed as feed
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
from ._records import ChangeKind, Fence, shard_of
from ._sqlite_conn import transaction

_SELECT = f"SELECT {CLUSTER_COLUMNS} FROM clusters AS c JOIN cluster_status AS s ON s.name = c.name"
_Row = tuple[Any, ...]
"""A row of ``CLUSTER_COLUMNS``."""
_UPDATE_STATUS = (
    "UPDATE cluster_status SET status = ?, phase = ?, status_seq = ? WHERE name = ? AND status_seq < ?"
)
_UPDATE_STATUS_FENCED = f"{_UPDATE_STATUS} AND {feed.FENCE_HOLDS}"


def _select_one(conn: sqlite3.Connection, name: str) -> _Row | None:
    row: _Row | None = conn.execute(f"{_SELECT} WHERE c.name = ?", (name,)).fetchone()
    return row


def get_cluster(conn: sqlite3.Connection, name: str) -> tuple[Cluster, int] | None:
    row = _select_one(conn, name)
    return None if row is None else decode_cluster(row)


def list_clusters(
    conn: sqlite3.Connection, phase: str | None, extra_names: list[str]
) -> list[tuple[Cluster, int]]:
    if phase is None:
        rows = conn.execute(f"{_SELECT} ORDER BY c.name").fetchall()
    elif extra_names:
        # Rows whose unflushed status is in ``phase`` while the row's phase column is not yet.
        rows = conn.execute(
            f"{_SELECT} WHERE s.phase = ? OR s.name IN (SELECT value FROM json_each(?)) ORDER BY c.name",
            (phase, ENCODE(extra_names)),
        ).fetchall()
    else:
        rows = conn.execute(f"{_SELECT} WHERE s.phase = ? ORDER BY c.name", (phase,)).fetchall()
    return decode_clusters(rows)


def list_clusters_in_shards(conn: sqlite3.Connection, shards: list[int]) -> list[tuple[Cluster, int]]:
    rows = conn.execute(
        f"{_SELECT} WHERE c.shard IN (SELECT value FROM json_each(?)) ORDER BY c.name", (ENCODE(shards),)
    ).fetchall()
    return decode_clusters(rows)


def list_raw_clusters_in_shards(conn: sqlite3.Connection, shards: list[int]) -> list[RawRow]:
    """(name, phase, cluster JSON, status_seq) of every cluster in ``shards``, without decoding them."""
    rows = conn.execute(
        f"SELECT {RAW_COLUMNS} FROM clusters AS c JOIN cluster_status AS s ON s.name = c.name"
        " WHERE c.shard IN (SELECT value FROM json_each(?)) ORDER BY c.name",
        (ENCODE(shards),),
    ).fetchall()
    return [raw_cluster(row) for row in rows]


def insert_cluster(conn: sqlite3.Connection, cluster: Cluster, seq: int, shards: int) -> None:
    metadata = cluster.metadata
    with transaction(conn):
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
        feed.append_change(conn, ChangeKind.CREATED, metadata.name, feed.now())


def _write_metadata(conn: sqlite3.Connection, row: _Row, metadata: Metadata, spec_json: bytes) -> _Row:
    display_name, region, credential = identity(SPEC.decode(spec_json))
    written = with_metadata(row, metadata, spec_json)
    conn.execute(
        "UPDATE clusters SET resource_version = ?, generation = ?, metadata = ?, spec = ?,"
        " display_name = ?, region = ?, credential = ? WHERE name = ?",
        (*written[1:5], display_name, region, credential, row[0]),
    )
    feed.append_change(conn, ChangeKind.UPDATED, row[0], feed.now())
    return written


def update_spec(
    conn: sqlite3.Connection,
    *,
    name: str,
    spec_json: bytes,
    labels: dict[str, str] | None,
    annotations: dict[str, str] | None,
    expected: str | None,
    fence: Fence | None,
) -> tuple[Cluster, int]:
    with transaction(conn):
        feed.check_fence(conn, fence, feed.now())
        row = _select_one(conn, name)
        if row is None:
            raise NotFound(f"cluster {name!r} not found")
        current = str(row[1])
        if expected is not None and expected != current:
            raise Conflict(name, expected, current)
        update = spec_update(row, spec_json, labels, annotations)
        if update is not None:
            row = _write_metadata(conn, row, *update)
    return decode_cluster(row)


def mark_deleting(conn: sqlite3.Connection, name: str, now: str) -> tuple[Cluster, int]:
    with transaction(conn):
        row = _select_one(conn, name)
        if row is None:
            raise NotFound(f"cluster {name!r} not found")
        metadata = deletion_update(row, now)
        if metadata is not None:
            row = _write_metadata(conn, row, metadata, row[4])
    return decode_cluster(row)


def delete_cluster(conn: sqlite3.Connection, name: str, fence: Fence | None) -> bool:
    with transaction(conn):
        at = feed.now()
        feed.check_fence(conn, fence, at)
        deleted = conn.execute("DELETE FROM clusters WHERE name = ?", (name,)).rowcount
        conn.execute("DELETE FROM cluster_status WHERE name = ?", (name,))
        conn.execute("DELETE FROM events WHERE cluster = ?", (name,))
        if deleted:
            feed.append_change(conn, ChangeKind.DELETED, name, at)
    return deleted > 0


def write_statuses(conn: sqlite3.Connection, rows: list[StatusRow], fsync: bool) -> list[str]:
    """Commit the statuses in one transaction, each only if its row is older and its fence (if any)
    still holds; append a ``status`` change per row written. Returns the names refused by a fence."""
    if fsync:
        # FULL makes this commit fsync the WAL (and with it every earlier commit); back to NORMAL after.
        conn.execute("PRAGMA synchronous=FULL")
    fenced: list[str] = []
    try:
        with transaction(conn):
            at = feed.now()
            written: list[str] = []
            for data, phase, seq, name, fence in rows:
                if fence is None:
                    changed = conn.execute(_UPDATE_STATUS, (data, phase, seq, name, seq)).rowcount
                else:
                    args = (data, phase, seq, name, seq, *feed.fence_args(fence, at))
                    changed = conn.execute(_UPDATE_STATUS_FENCED, args).rowcount
                    if (
                        not changed
                        and conn.execute(f"SELECT {feed.FENCE_HOLDS}", feed.fence_args(fence, at)).fetchone()[
                            0
                        ]
                        != 1
                    ):
                        fenced.append(name)
                if changed:
                    written.append(name)
            feed.append_changes(conn, ChangeKind.STATUS, written, at)
    finally:
        if fsync:
            conn.execute("PRAGMA synchronous=NORMAL")
    return fenced


def append_event(conn: sqlite3.Connection, name: str, data: bytes, keep: int, fence: Fence | None) -> None:
    with transaction(conn):
        feed.check_fence(conn, fence, feed.now())
        if conn.execute("SELECT 1 FROM clusters WHERE name = ?", (name,)).fetchone() is None:
            raise NotFound(f"cluster {name!r} not found")
        conn.execute("INSERT INTO events (cluster, data) VALUES (?, ?)", (name, data))
        conn.execute(
            "DELETE FROM events WHERE cluster = ? AND id <= "
            "(SELECT id FROM events WHERE cluster = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (name, name, keep),
        )


def list_events(conn: sqlite3.Connection, name: str, limit: int) -> list[Event]:
    rows = conn.execute(
        "SELECT data FROM (SELECT id, data FROM events WHERE cluster = ? ORDER BY id DESC LIMIT ?) "
        "ORDER BY id",
        (name, limit),
    ).fetchall()
    return [EVENT.decode(row[0]) for row in rows]


def put_credential(conn: sqlite3.Connection, cred: Credential, now: str, box: SecretBox) -> Credential:
    context = credential_context(cred.namespace, cred.name)
    with transaction(conn):
        row = conn.execute(
            "SELECT data FROM credentials WHERE namespace = ? AND name = ?", (cred.namespace, cred.name)
        ).fetchone()
        created = CREDENTIAL.decode(box.open(row[0], context)).created if row is not None else ""
        stored = msgspec.structs.replace(cred, created=created or now, updated=now)
        conn.execute(
            "INSERT INTO credentials (namespace, name, data) VALUES (?, ?, ?) "
            "ON CONFLICT (namespace, name) DO UPDATE SET data = excluded.data",
            (cred.namespace, cred.name, box.seal(ENCODE(stored), context)),
        )
        feed.append_change(conn, ChangeKind.CREDENTIAL, f"{cred.namespace}:{cred.name}", feed.now())
    return stored


def get_credential(conn: sqlite3.Connection, namespace: str, name: str, box: SecretBox) -> Credential | None:
    row = conn.execute(
        "SELECT data FROM credentials WHERE namespace = ? AND name = ?", (namespace, name)
    ).fetchone()
    return None if row is None else CREDENTIAL.decode(box.open(row[0], credential_context(namespace, name)))


def list_credentials(conn: sqlite3.Connection, box: SecretBox) -> list[Credential]:
    rows = conn.execute("SELECT namespace, name, data FROM credentials ORDER BY namespace, name").fetchall()
    return [CREDENTIAL.decode(box.open(data, credential_context(ns, name))) for ns, name, data in rows]


def delete_credential(conn: sqlite3.Connection, namespace: str, name: str) -> bool:
    with transaction(conn):
        cursor = conn.execute("DELETE FROM credentials WHERE namespace = ? AND name = ?", (namespace, name))
        if cursor.rowcount:
            feed.append_change(conn, ChangeKind.CREDENTIAL, f"{namespace}:{name}", feed.now())
    return cursor.rowcount > 0


def get_setting(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def put_setting(conn: sqlite3.Connection, name: str, value: str) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        feed.append_change(conn, ChangeKind.SETTING, name, feed.now())


def list_settings(conn: sqlite3.Connection) -> dict[str, str]:
    return {str(n): str(v) for n, v in conn.execute("SELECT name, value FROM settings ORDER BY name")}


def put_secret(conn: sqlite3.Connection, name: str, data: bytes, fence: Fence | None, box: SecretBox) -> None:
    sealed = box.seal(data, secret_context(name))
    with transaction(conn):
        feed.check_fence(conn, fence, feed.now())
        conn.execute(
            "INSERT INTO secrets (name, data) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET data = excluded.data",
            (name, sealed),
        )


def get_secret(conn: sqlite3.Connection, name: str, box: SecretBox) -> dict[str, str] | None:
    row = conn.execute("SELECT data FROM secrets WHERE name = ?", (name,)).fetchone()
    return None if row is None else SECRET.decode(box.open(row[0], secret_context(name)))


def delete_secret(conn: sqlite3.Connection, name: str, fence: Fence | None) -> bool:
    with transaction(conn):
        feed.check_fence(conn, fence, feed.now())
        return conn.execute("DELETE FROM secrets WHERE name = ?", (name,)).rowcount > 0


def max_status_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(status_seq), 0) FROM cluster_status").fetchone()[0])


def list_cluster_names(conn: sqlite3.Connection) -> list[str]:
    return [str(row[0]) for row in conn.execute("SELECT name FROM clusters ORDER BY name")]


def request_sync(conn: sqlite3.Connection, name: str) -> None:
    with transaction(conn):
        if conn.execute("SELECT 1 FROM clusters WHERE name = ?", (name,)).fetchone() is None:
            raise NotFound(f"cluster {name!r} not found")
        feed.append_change(conn, ChangeKind.SYNC, name, feed.now())


def find_identity(conn: sqlite3.Connection, display_name: str, region: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, credential FROM clusters WHERE display_name = ? AND region = ? ORDER BY name",
        (display_name, region),
    ).fetchall()
    return {str(n): str(c) for n, c in rows}
