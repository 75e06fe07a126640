"""The SQLite schema as an ordered list of migrations; ``schema_version`` records how many ran.

Never edit a released migration: append a new one. Each runs inside the same transaction as the version
bump, so a crash mid-migration leaves the previous version intact (SQLite DDL is transactional).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import StoreError

Migration = Callable[[sqlite3.Connection], None]


def _v1_initial(conn: sqlite3.Connection) -> None:
    # Ordinary rowid tables: rows are several KB of JSON, which WITHOUT ROWID tables handle poorly.
    conn.execute(
        "CREATE TABLE clusters ("
        " name TEXT PRIMARY KEY,"
        " resource_version INTEGER NOT NULL,"
        " generation INTEGER NOT NULL,"
        " metadata BLOB NOT NULL,"
        " spec BLOB NOT NULL)"
    )
    # Status in its own table: SQLite rewrites a whole row on UPDATE, and status is the hot write path,
    # so a status flush must not rewrite the spec and metadata too.
    conn.execute(
        "CREATE TABLE cluster_status ( name TEXT PRIMARY KEY, phase TEXT NOT NULL, status BLOB NOT NULL)"
    )
    conn.execute("CREATE INDEX cluster_status_phase ON cluster_status (phase)")
    conn.execute(
        "CREATE TABLE events ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " cluster TEXT NOT NULL,"
        " data BLOB NOT NULL)"
    )
    conn.execute("CREATE INDEX events_cluster ON events (cluster, id)")
    conn.execute(
        "CREATE TABLE credentials ("
        " namespace TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " data BLOB NOT NULL,"
        " PRIMARY KEY (namespace, name))"
    )
    conn.execute("CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _v2_status_seq_and_secrets(conn: sqlite3.Connection) -> None:
    # status_seq orders a row's status against not-yet-flushed writes (read-your-writes, and a stale
    # write never lands on a re-created cluster of the same name).
    conn.execute("ALTER TABLE cluster_status ADD COLUMN status_seq INTEGER NOT NULL DEFAULT 0")
    # Secrets (service-account tokens...) live apart from cluster rows, so listing clusters never reads them.
    conn.execute("CREATE TABLE secrets (name TEXT PRIMARY KEY, data BLOB NOT NULL)")


def _v3_replicas_and_change_feed(conn: sqlite3.Connection) -> None:
    # What replicas need to find clusters without decoding them: the shard (filled at open, from the
    # configured shard count) and the EKS identity of the duplicate-name check.
    conn.execute("ALTER TABLE clusters ADD COLUMN shard INTEGER NOT NULL DEFAULT -1")
    conn.execute("ALTER TABLE clusters ADD COLUMN display_name TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE clusters ADD COLUMN region TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE clusters ADD COLUMN credential TEXT NOT NULL DEFAULT ''")
    conn.execute(
        "UPDATE clusters SET"
        " display_name = COALESCE(json_extract(spec, '$.eksConfig.displayName'), ''),"
        " region = COALESCE(json_extract(spec, '$.eksConfig.region'), ''),"
        " credential = COALESCE(json_extract(spec, '$.eksConfig.amazonCredentialSecret'), '')"
    )
    conn.execute("CREATE INDEX clusters_shard ON clusters (shard, name)")
    conn.execute("CREATE INDEX clusters_identity ON clusters (display_name, region)")
    # AUTOINCREMENT: a sequence number is never reused, even after the newest rows were trimmed.
    conn.execute(
        "CREATE TABLE changes ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " kind TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " at REAL NOT NULL)"
    )
    conn.execute("CREATE INDEX changes_at ON changes (at)")
    conn.execute(
        "CREATE TABLE replicas ("
        " id TEXT PRIMARY KEY,"
        " address TEXT NOT NULL,"
        " started REAL NOT NULL,"
        " heartbeat REAL NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE leases ("
        " shard INTEGER PRIMARY KEY,"
        " owner TEXT NOT NULL,"
        " epoch INTEGER NOT NULL,"
        " renewed REAL NOT NULL,"
        " expires REAL NOT NULL)"
    )
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


MIGRATIONS: Sequence[Migration] = (_v1_initial, _v2_status_seq_and_secrets, _v3_replicas_and_change_feed)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the database (0 for an empty database)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def _check_known(found: int) -> None:
    if found > len(MIGRATIONS):
        raise StoreError(
            f"database schema version {found} is newer than this program supports ({len(MIGRATIONS)})"
        )


def migrate(
    conn: sqlite3.Connection,
    *,
    target: int = SCHEMA_VERSION,
    then: Callable[[sqlite3.Connection], Any] | None = None,
) -> int:
    """Bring the database to ``target`` in one transaction; return the version found before.

    ``conn`` must be in autocommit mode (``isolation_level=None``). A database newer than this code is
    refused rather than opened: old code must not write data it does not understand. ``then`` runs in the
    same transaction once the schema is current (the key check): if it raises, nothing was changed.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(conn)
        _check_known(found)
        if found < target:
            if found == 0:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            for migration in MIGRATIONS[found:target]:
                migration(conn)
            conn.execute("UPDATE schema_version SET version = ?", (target,))
        if then is not None:
            then(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
