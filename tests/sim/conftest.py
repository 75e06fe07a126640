from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from aiobotocore.session import AioSession

from controlplane.sim import SimSettings, Simulator

ROLE = "arn:aws:iam::123456789012:role/eks-service-role"
NODE_ROLE = "arn:aws:iam::123456789012:role/node-role"
SUBNETS = ["subnet-aaaa", "subnet-bbbb"]

_SESSION = AioSession()


@asynccontextmanager
async def aws(sim: Simulator, service: str, region: str = "us-west-2") -> AsyncIterator[Any]:
    async with _SESSION.create_client(
        service,
        endpoint_url=sim.url,
        region_name=region,
        aws_access_key_id="AKIDSIM",
        aws_secret_access_key="x",
    ) as client:
        yield client


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimSettings(time_scale=0.01, kube_endpoints=False)) as s:
        yield s


@pytest.fixture
async def eks(sim: Simulator) -> AsyncIterator[Any]:
    async with aws(sim, "eks") as client:
        yield client


async def wait_for(predicate: Any, timeout: float = 2.0) -> None:
    """Poll an async predicate every few ms until it holds (lifecycles run at time_scale 0.01)."""
    with anyio.fail_after(timeout):
        while not await predicate():
            await anyio.sleep(0.005)


async def make_cluster(eks: Any, name: str = "c1", **kw: Any) -> dict[str, Any]:
    vpc = {"subnetIds": SUBNETS, **kw.pop("vpc", {})}
    r = await eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=vpc, **kw)
    return r["cluster"]  # type: ignore[no-any-return]


async def active_cluster(eks: Any, name: str = "c1", **kw: Any) -> dict[str, Any]:
    await make_cluster(eks, name, **kw)

    async def ready() -> bool:
        return str((await eks.describe_cluster(name=name))["cluster"]["status"]) == "ACTIVE"

    await wait_for(ready)
    return (await eks.describe_cluster(name=name))["cluster"]  # type: ignore[no-any-return]


async def status_of(eks: Any, name: str, ng: str | None = None) -> str:
    if ng is None:
        return (await eks.describe_cluster(name=name))["cluster"]["status"]  # type: ignore[no-any-return]
    return (await eks.describe_nodegroup(clusterName=name, nodegroupName=ng))["nodegroup"]["status"]  # type: ignore[no-any-return]
