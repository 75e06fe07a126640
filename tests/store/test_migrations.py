from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from controlplane.api import ClusterSpec, ClusterStatus, Metadata, Phase
from controlplane.store import SQLiteStore, StoreError, _sqlite_schema, shard_of
from controlplane.store._sqlite_schema import SCHEMA_VERSION, migrate, schema_version

from ._helpers import raw_status, spec, status

pytestmark = pytest.mark.anyio


def _v1_database(path: Path) -> None:
    """A database as the first release wrote it: schema v1 with one cluster, an event and a setting."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, target=1) == 0
        metadata = Metadata(
            name="old", resource_version="4", generation=2, creation_timestamp="2024-01-01T00:00:00Z"
        )
        conn.execute(
            "INSERT INTO clusters (name, resource_version, generation, metadata, spec) "
            "VALUES (?, 4, 2, ?, ?)",
            ("old", msgspec.json.encode(metadata), msgspec.json.encode(spec("1.29"))),
        )
        conn.execute(
            "INSERT INTO cluster_status (name, phase, status) VALUES ('old', 'active', ?)",
            (msgspec.json.encode(ClusterStatus(phase=Phase.ACTIVE, last_sync_time="v1")),),
        )
        event = b'{"time":"t","type":"Normal","reason":"r","message":"m"}'
        conn.execute("INSERT INTO events (cluster, data) VALUES ('old', ?)", (event,))
        conn.execute("INSERT INTO settings (name, value) VALUES ('eks-refresh-cron', '@hourly')")
        assert schema_version(conn) == 1
        columns = {row[1] for row in conn.execute("PRAGMA table_info(cluster_status)")}
        assert "status_seq" not in columns
    finally:
        conn.close()


async def test_migrates_v1_data(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    _v1_database(db)
    async with SQLiteStore(db) as store:
        got = await store.get_cluster("old")
        assert got is not None
        assert (got.metadata.resource_version, got.metadata.generation) == ("4", 2)
        assert got.spec == spec("1.29")
        assert got.status.last_sync_time == "v1"
        assert [c.metadata.name for c in await store.list_clusters(phase=Phase.ACTIVE)] == ["old"]
        assert [e.reason for e in await store.list_events("old")] == ["r"]
        assert await store.get_setting("eks-refresh-cron") == "@hourly"
        # What v2 added works on migrated data.
        await store.put_secret("old/token", {"token": "t"})
        await store.write_status("old", status(Phase.UPDATING, "v2"))
        await store.flush()
        updated = await store.update_spec(
            "old", ClusterSpec(eks_config=spec("1.30").eks_config), expected_resource_version="4"
        )
        assert (updated.metadata.resource_version, updated.metadata.generation) == ("5", 3)
        # What v3 added: the EKS identity and the shard of migrated rows are filled in.
        assert await store.find_identity("prod", "us-east-1") == {"old": "cattle-global-data:aws"}
        shard = shard_of("old", store.shards)
        assert [c.metadata.name for c in await store.list_clusters_in_shards([shard])] == ["old"]
        assert await store.list_clusters_in_shards([(shard + 1) % store.shards]) == []
    assert raw_status(db, "old") == status(Phase.UPDATING, "v2")
    conn = sqlite3.connect(db)
    try:
        assert schema_version(conn) == SCHEMA_VERSION == 3
    finally:
        conn.close()


async def test_migration_is_idempotent_on_reopen(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SQLiteStore(db):
        pass
    async with SQLiteStore(db) as store:
        assert await store.list_clusters() == []
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert migrate(conn) == SCHEMA_VERSION
    finally:
        conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    async with SQLiteStore(db):
        pass
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        async with SQLiteStore(db):
            pass


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "half.db"
    _v1_database(db)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE cluster_status ADD COLUMN status_seq INTEGER NOT NULL DEFAULT 0")
        raise RuntimeError("boom")

    monkeypatch.setattr(_sqlite_schema, "MIGRATIONS", (_sqlite_schema.MIGRATIONS[0], broken))
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        with pytest.raises(RuntimeError):
            migrate(conn, target=2)
        assert schema_version(conn) == 1
        assert "status_seq" not in {row[1] for row in conn.execute("PRAGMA table_info(cluster_status)")}
    finally:
        conn.close()
