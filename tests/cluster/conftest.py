"""Component fixtures: the simulator and the real service (store, AWS adapter, actors) on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from aiobotocore.session import AioSession

from controlplane.api import Cluster, ClusterSpec, Credential, Phase, decode_cluster
from controlplane.cluster import DeleteRequested
from controlplane.config import load_settings
from controlplane.service import Service
from controlplane.sim import SimSettings, Simulator

FAST = 0.01
_SESSION = AioSession()


class World:
    """The simulator, the service and helpers to drive both."""

    def __init__(self, sim: Simulator, svc: Service, http: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.svc = svc
        self.http = http

    async def sim_get(self, path: str) -> Any:
        async with self.http.get(f"{self.sim.url}{path}") as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def sim_post(self, path: str, body: Any) -> Any:
        async with self.http.post(f"{self.sim.url}{path}", json=body) as resp:
            assert resp.status in (200, 201), await resp.text()
            return await resp.json()

    async def sim_patch(self, path: str, body: Any) -> Any:
        async with self.http.patch(f"{self.sim.url}{path}", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def apply(self, manifest: str | dict[str, Any]) -> Cluster:
        data = manifest if isinstance(manifest, str) else msgspec.json.encode(manifest)
        cluster = decode_cluster(data)
        stored = await self.svc.store.create_cluster(cluster)
        await self.svc.fleet.start(stored.metadata.name)
        return stored

    async def get(self, name: str) -> Cluster:
        cluster = await self.svc.store.get_cluster(name)
        assert cluster is not None
        return cluster

    async def wait_for(
        self, name: str, predicate: Callable[[Cluster], bool], timeout: float = 30.0, what: str = ""
    ) -> Cluster:
        last: Cluster | None = None
        try:
            with anyio.fail_after(timeout):
                while True:
                    last = await self.svc.store.get_cluster(name)
                    if last is not None and predicate(last):
                        return last
                    await anyio.sleep(0.02)
        except TimeoutError:
            status = msgspec.json.encode(last.status).decode() if last else "gone"
            raise AssertionError(f"timed out waiting for {what or 'condition'} on {name}: {status}") from None

    async def wait_phase(self, name: str, phase: Phase, timeout: float = 30.0) -> Cluster:
        return await self.wait_for(name, lambda c: c.status.phase == phase, timeout, f"phase {phase.value}")

    async def wait_gone(self, name: str, timeout: float = 30.0) -> None:
        with anyio.fail_after(timeout):
            while await self.svc.store.get_cluster(name) is not None:
                await anyio.sleep(0.02)

    async def edit(self, name: str, **changes: Any) -> None:
        """Change fields of the stored eksConfig (as an API write would) and tell the actor."""
        current = await self.get(name)
        eks = msgspec.structs.replace(current.spec.eks_config, **changes)
        await self.svc.store.update_spec(
            name,
            ClusterSpec(eks_config=eks, sync_policy=current.spec.sync_policy),
            expected_resource_version=current.metadata.resource_version,
        )
        await self.svc.fleet.start(name)

    async def sim_cluster(self, name: str) -> dict[str, Any]:
        """The simulator's view of one cluster (``GET /_sim/state``)."""
        return next(c for c in (await self.state())["clusters"] if c["name"] == name)

    async def calls(self) -> dict[str, Any]:
        return await self.sim_get("/_sim/calls")  # type: ignore[no-any-return]

    async def state(self) -> dict[str, Any]:
        return await self.sim_get("/_sim/state")  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def console(self) -> AsyncIterator[Any]:
        """An EKS client acting as the console (or Terraform): the same API, another caller."""
        async with _SESSION.create_client(
            "eks",
            endpoint_url=self.sim.url,
            region_name="us-west-2",
            aws_access_key_id="AKIDCONSOLE",
            aws_secret_access_key="console-secret",
        ) as client:
            yield client

    async def delete(self, name: str) -> None:
        """Delete as the admin API does (mark deleting), and wait until the cluster is gone."""
        await self.svc.store.mark_deleting(name)
        self.svc.fleet.tell(name, DeleteRequested())
        await self.wait_gone(name, timeout=60)


def service_settings(tmp: Path, sim_url: str, **sections: dict[str, Any]) -> Any:
    overrides: dict[str, dict[str, Any]] = {
        "service": {"data_dir": str(tmp), "time_scale": FAST},
        "admin": {"listen": "127.0.0.1:0"},
        "aws": {"endpoint_url": sim_url},
        "sync": {"refresh_cron": "@every 1h", "initial_round_spread": 0.0},
    }
    for key, value in sections.items():
        overrides[key] = {**overrides.get(key, {}), **value}
    return load_settings(env={}, overrides=overrides)


WorldFactory = Callable[..., Awaitable[World]]


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDDEFAULT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "default-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    async with (
        Simulator(SimSettings(time_scale=FAST)) as sim,
        aiohttp.ClientSession() as http,
    ):
        settings = service_settings(tmp_path, sim.url)
        async with Service(settings) as svc:
            await svc.store.put_credential(
                Credential(namespace="default", name="test", access_key="AKIDTEST", secret_key="test-secret")
            )
            yield World(sim, svc, http)


MUTATING_EKS = frozenset(
    {
        "CreateCluster",
        "DeleteCluster",
        "UpdateClusterVersion",
        "UpdateClusterConfig",
        "CreateNodegroup",
        "DeleteNodegroup",
        "UpdateNodegroupConfig",
        "UpdateNodegroupVersion",
        "TagResource",
        "UntagResource",
        "CreateAddon",
        "DeleteAddon",
        "UpdateAddon",
        "CreateAccessEntry",
        "UpdateAccessEntry",
        "DeleteAccessEntry",
        "AssociateAccessPolicy",
        "DisassociateAccessPolicy",
        "CreatePodIdentityAssociation",
        "UpdatePodIdentityAssociation",
        "DeletePodIdentityAssociation",
        "CreateFargateProfile",
        "DeleteFargateProfile",
    }
)


def mutating(calls: dict[str, Any]) -> dict[str, int]:
    """EKS mutations plus every mutating call to other services (Create*/Delete*/Update*)."""
    out: dict[str, int] = {}
    for service, ops in calls.items():
        if service.startswith("_"):
            continue
        for op, n in ops.items():
            if (service == "eks" and op in MUTATING_EKS) or (
                service != "eks" and op.startswith(("Create", "Delete", "Update", "Tag", "Untag"))
            ):
                out[f"{service}:{op}"] = n
    return out


def converged(c: Cluster) -> bool:
    return (
        c.status.phase == Phase.ACTIVE
        and c.status.applied_spec == c.spec.eks_config
        and c.status.observed_generation == c.metadata.generation
    )
