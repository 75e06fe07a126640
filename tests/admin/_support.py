"""Shared by the admin API and CLI tests: a recording controller, manifests, a running API server."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from controlplane import metrics
from controlplane.admin import build_admin_app
from controlplane.config import AdminSettings
from controlplane.store import SQLiteStore, Store, StoreSettings

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
class FakeController:
    """Records every notification; ``sync_now`` knows only the clusters it was told about."""

    store: Store
    is_ready: bool = True
    delete_removes: bool = False
    calls: list[tuple[str, ...]] = field(default_factory=list)
    running: set[str] = field(default_factory=set)

    def ready(self) -> bool:
        return self.is_ready

    async def cluster_created(self, name: str) -> None:
        self.calls.append(("created", name))
        self.running.add(name)

    async def cluster_spec_changed(self, name: str) -> None:
        self.calls.append(("spec_changed", name))

    async def cluster_delete_requested(self, name: str) -> None:
        self.calls.append(("delete_requested", name))
        if self.delete_removes:
            # Stands in for the actor finishing the AWS deletion at once.
            await self.store.delete_cluster(name)
            self.running.discard(name)

    async def sync_now(self, name: str) -> None:
        if name not in self.running:
            raise KeyError(name)
        self.calls.append(("sync", name))

    async def setting_changed(self, name: str, value: str) -> None:
        self.calls.append(("setting", name, value))


@dataclass
class Api:
    client: TestClient[Any, Any]
    store: Store
    controller: FakeController

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@asynccontextmanager
async def running_api(
    tmp_path: Path, *, settings: AdminSettings | None = None, ready: bool = True
) -> AsyncIterator[Api]:
    """The admin app over the real SQLite store, served on 127.0.0.1 (a random port)."""
    async with SQLiteStore(tmp_path / "store.sqlite3", StoreSettings()) as store:
        controller = FakeController(store, is_ready=ready)
        app = build_admin_app(
            store=store,
            controller=controller,
            settings=settings or AdminSettings(max_body_bytes=64 * 1024),
            token=TOKEN,
            registry=metrics.REGISTRY,
            logger=logging.getLogger("test.admin"),
        )
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Api(client, store, controller)
