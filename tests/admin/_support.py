"""Shared by the admin API and CLI tests: a stand-in replica, manifests, a running API server."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from controlplane import metrics
from controlplane.admin import build_admin_app
from controlplane.config import AdminSettings
from controlplane.replicas import follow
from controlplane.store import Change, ChangeKind, SQLiteStore, Store, StoreSettings

TOKEN = "test-token-0123456789"
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"

CLUSTER: dict[str, Any] = {
    "apiVersion": "eks-controlplane.io/v1",
    "kind": "Cluster",
    "metadata": {"name": "demo", "labels": {"team": "core"}},
    "spec": {
        "eksConfig": {
            "amazonCredentialSecret": "cattle-global-data:aws",
            "displayName": "demo",
            "region": "us-east-1",
            "kubernetesVersion": "1.30",
            "publicAccess": True,
            "privateAccess": False,
            "secretsEncryption": False,
            "loggingTypes": [],
            "tags": {"env": "test"},
            "subnets": [],
            "securityGroups": [],
            "publicAccessSources": [],
            "nodeGroups": [
                {
                    "nodegroupName": "ng1",
                    "instanceType": "t3.medium",
                    "desiredSize": 2,
                    "minSize": 1,
                    "maxSize": 3,
                    "diskSize": 20,
                    "version": "1.30",
                    "gpu": False,
                    "ec2SshKey": "",
                    "resourceTags": {},
                    "subnets": [],
                    "tags": {},
                    "labels": {},
                    "requestSpotInstances": False,
                }
            ],
        }
    },
}

RANCHER_YAML = """\
apiVersion: eks.cattle.io/v1
kind: EKSClusterConfig
metadata:
  name: imported-one
spec:
  amazonCredentialSecret: "cattle-global-data:aws"
  displayName: imported-one
  region: eu-west-1
  imported: true
"""


def cluster(name: str = "demo", **eks: Any) -> dict[str, Any]:
    """A valid native cluster manifest named ``name`` with ``eks`` overriding eksConfig fields."""
    doc = copy.deepcopy(CLUSTER)
    doc["metadata"]["name"] = name
    doc["spec"]["eksConfig"]["displayName"] = name
    doc["spec"]["eksConfig"].update(eks)
    return doc


@dataclass
class FakeReplica:
    """Stands in for the replica behind the API: readiness, and an owner that follows the store's change
    feed the way a real replica does (recording what it saw, and, when asked, finishing deletions)."""

    store: Store
    is_ready: bool = True
    delete_removes: bool = False
    seen: list[tuple[str, str]] = field(default_factory=list)

    def ready(self) -> bool:
        return self.is_ready

    @property
    def replica_id(self) -> str:
        return "test-replica"

    @property
    def lease_duration(self) -> float:
        return 15.0

    async def route(self, change: Change) -> None:
        self.seen.append((change.kind.value, change.name))
        if change.kind is ChangeKind.UPDATED and self.delete_removes:
            cluster = await self.store.get_cluster(change.name)
            if cluster is not None and cluster.metadata.deletion_timestamp:
                # Stands in for the actor finishing the AWS deletion at once.
                await self.store.delete_cluster(change.name)

    async def resync(self) -> None:
        raise AssertionError("the test feed never expires")


@dataclass
class Api:
    client: TestClient[Any, Any]
    store: Store
    replica: FakeReplica
    start: int

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def changes(self) -> list[tuple[str, str]]:
        """What the store's change feed carried since the API started (kind, name), oldest first."""
        return [(c.kind.value, c.name) for c in await self.store.changes_since(self.start)]


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def admin_app(
    store: Store,
    replica: FakeReplica,
    settings: AdminSettings | None = None,
    *,
    default_region: str | None = None,
) -> web.Application:
    """The admin app over ``store``, as the service builds it."""
    return build_admin_app(
        store=store,
        replica=replica,
        settings=settings or AdminSettings(max_body_bytes=64 * 1024),
        token=TOKEN,
        registry=metrics.REGISTRY,
        logger=logging.getLogger("test.admin"),
        default_region=default_region,
    )


@asynccontextmanager
async def running_api(
    tmp_path: Path,
    *,
    settings: AdminSettings | None = None,
    ready: bool = True,
    store_settings: StoreSettings | None = None,
    default_region: str = "",
) -> AsyncIterator[Api]:
    """The admin app over the real SQLite store, served on 127.0.0.1 (a random port)."""
    async with (
        SQLiteStore(
            tmp_path / "store.sqlite3", store_settings or StoreSettings(feed_poll_interval=0.01)
        ) as store,
        anyio.create_task_group() as tg,
    ):
        replica = FakeReplica(store, is_ready=ready)
        start = await store.head()
        tg.start_soon(partial(follow, store, replica, after=start))
        app = admin_app(store, replica, settings, default_region=default_region)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Api(client, store, replica, start)
        tg.cancel_scope.cancel()
