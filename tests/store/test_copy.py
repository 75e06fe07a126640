"""``store copy`` moves a whole fleet between backends: SQLite -> PostgreSQL -> SQLite serves the same
bytes through the admin API, and a copy that would mix fleets or lose objects is refused."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controlplane import metrics
from controlplane.admin import build_admin_app
from controlplane.api import Credential, Event, Phase
from controlplane.config import AdminSettings
from controlplane.store import PostgresStore, SQLiteStore, StoreError, StoreSettings, copy_store
from controlplane.store._copy import Portable
from tests.admin._support import AUTH, TOKEN, FakeReplica

from ._helpers import cluster, spec, status

pytestmark = pytest.mark.anyio

SECRET_KEY = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def _key(path: Path) -> Path:
    path.write_bytes(base64.b64encode(os.urandom(32)))
    return path


async def _fleet(store: Portable) -> None:
    """A fleet with a bit of everything: edited specs, labels, statuses, deletions, events, secrets."""
    for i in range(12):
        await store.create_cluster(cluster(f"c{i:02d}", labels={"team": f"t{i % 3}"}))
    await store.update_spec("c01", spec("1.32"), expected_resource_version="1", annotations={"a": "b"})
    await store.update_spec("c01", spec("1.32", desired=4), expected_resource_version="2")
    await store.mark_deleting("c02")
    for i in range(0, 12, 2):
        await store.write_status(f"c{i:02d}", status(Phase.ACTIVE, f"sync-{i}"))
    await store.write_status("c03", status(Phase.CREATING, "pending"))  # copied unflushed: read-your-writes
    for i in range(7):
        await store.append_event("c00", Event(time=f"t{i}", type="Normal", reason=f"r{i}", message="m"))
    await store.append_event("c05", Event(time="t", type="Warning", reason="Conflict", message="both"))
    await store.put_credential(
        Credential(
            namespace="team", name="prod", access_key="AKIAPROD", secret_key=SECRET_KEY, session_token="S"
        )
    )
    await store.put_credential(Credential(namespace="default", name="demo", access_key="AK", secret_key="SK"))
    await store.put_setting("eks-refresh-cron", "@every 1m")
    await store.put_setting("other", "")
    await store.put_secret("c00/sa-token", {"token": "tok-0", "ca": "ca-0"})
    await store.put_secret("c04/sa-token", {"token": "tok-4"})


@asynccontextmanager
async def _api(store: Portable) -> AsyncIterator[TestClient[Any, Any]]:
    app = build_admin_app(
        store=store,
        replica=FakeReplica(store),
        settings=AdminSettings(),
        token=TOKEN,
        registry=metrics.REGISTRY,
        logger=logging.getLogger("test.copy"),
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def _served(store: Portable) -> dict[str, bytes]:
    """Everything the admin API serves about the fleet, as bytes, plus the secrets (never served)."""
    out: dict[str, bytes] = {}
    async with _api(store) as client:

        async def get(path: str) -> None:
            response = await client.get(path, headers=AUTH)
            assert response.status == 200, (path, await response.text())
            out[path] = await response.read()

        await get("/v1/clusters")
        # A list's metadata.resourceVersion is a position in this store's own change feed, which a copy
        # starts afresh: everything else of the list is the fleet's data, and must be the same bytes.
        listed = msgspec.json.decode(out["/v1/clusters"])
        assert int(listed["metadata"].pop("resourceVersion")) > 0
        out["/v1/clusters"] = msgspec.json.encode(listed)
        for name in await store.list_cluster_names():
            await get(f"/v1/clusters/{name}")
            await get(f"/v1/clusters/{name}/events")
        await get("/v1/credentials")
        for cred in await store.list_credentials():
            await get(f"/v1/credentials/{cred.namespace}/{cred.name}")
        await get("/v1/settings")
    out["secrets"] = msgspec.json.encode(await store.list_secrets())
    out["credentials with their secrets"] = msgspec.json.encode(await store.list_credentials())
    return out


async def test_sqlite_to_postgresql_and_back_serves_the_same_bytes(tmp_path: Path, pg_url: str) -> None:
    first = SQLiteStore(tmp_path / "a" / "cp.db", StoreSettings(flush_interval=30.0))
    middle = PostgresStore(pg_url, secret_key_file=_key(tmp_path / "pg.key"), shards=64)
    last = SQLiteStore(tmp_path / "b" / "cp.db")  # its own key, generated
    async with first as source:
        await _fleet(source)
        expected = await _served(source)
        async with middle as pg:
            summary = await copy_store(source, pg)
            assert summary.counts == {
                "clusters": 12,
                "events": 8,
                "credentials": 2,
                "settings": 2,
                "secrets": 2,
            }
            assert summary.source == f"sqlite:///{tmp_path}/a/cp.db" and summary.target == pg.url
            assert await _served(pg) == expected
            async with last as back:
                await copy_store(pg, back)
                assert await _served(back) == expected
                # The copies are live stores: they keep numbering resourceVersions from the copied ones.
                updated = await back.update_spec("c01", spec("1.33"), expected_resource_version="3")
                assert (updated.metadata.resource_version, updated.metadata.generation) == ("4", 4)
    assert "copied 12 clusters, 8 events, 2 credentials, 2 settings, 2 secrets" in str(summary)


async def test_a_target_that_is_not_empty_is_refused_and_left_alone(tmp_path: Path, pg_url: str) -> None:
    async with (
        SQLiteStore(tmp_path / "src.db") as source,
        PostgresStore(pg_url, secret_key_file=_key(tmp_path / "pg.key")) as target,
    ):
        await _fleet(source)
        await target.put_setting("eks-refresh-cron", "@hourly")
        with pytest.raises(
            StoreError, match=r"refusing to copy into postgresql://.*not empty \(1 settings\)"
        ):
            await copy_store(source, target)
        assert await target.counts() == {
            "clusters": 0,
            "events": 0,
            "credentials": 0,
            "settings": 1,
            "secrets": 0,
        }


async def test_a_copy_that_loses_objects_fails_its_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with SQLiteStore(tmp_path / "src.db") as source, SQLiteStore(tmp_path / "dst" / "dst.db") as target:
        await _fleet(source)

        async def lossy(creds: Any) -> None:
            await SQLiteStore.import_credentials(target, creds[:1])

        monkeypatch.setattr(target, "import_credentials", lossy)
        with pytest.raises(StoreError, match="copy verification failed"):
            await copy_store(source, target)
