"""What the feature tests share: clusters made outside the control plane, refreshes, and what each sync
policy does with a console change of a managed field."""

from __future__ import annotations

from typing import Any

import anyio

from controlplane.api import SyncPolicy
from controlplane.cluster import SyncTick

from .conftest import World, converged

ME = "arn:aws:iam::123456789012:user/moto"
"""Our IAM principal: moto's STS names every unknown access key so."""
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ROLE = "arn:aws:iam::123456789012:role/"
POLICIES = [p.value for p in SyncPolicy]


async def existing(world: World, name: str, **fields: Any) -> None:
    """An ACTIVE cluster made outside the control plane (its creator unknown: any caller gets in)."""
    body = {"name": name, "region": "us-west-2", "version": "1.30", **fields}
    await world.sim_post("/_sim/clusters", body)


async def tick_and_settle(world: World, name: str) -> None:
    actor = world.svc.fleet.actor(name)
    assert actor is not None
    await actor.ask(SyncTick(), timeout=30)  # returns once the tick was handled
    await world.wait_for(name, converged, timeout=60, what="converged")


async def until(check: Any, timeout: float = 20.0) -> None:
    """Poll an async predicate (AWS-side settling: an update or a lifecycle finishing)."""
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.02)


def expected(policy: str, local: Any, console: Any) -> tuple[Any, Any]:
    """(spec value, AWS value) after a refresh of a managed field the console changed from ``local``:
    three-way and rancher adopt it, desired-wins reverts it, observe leaves both sides alone."""
    if policy in ("three-way", "rancher"):
        return console, console
    if policy == "desired-wins":
        return local, local
    return local, console


async def sim_cluster(world: World, name: str) -> dict[str, Any]:
    return await world.sim_cluster(name)


async def gone_from_aws(world: World) -> None:
    state = await world.state()
    assert state["clusters"] == [], state["clusters"]
    assert state["launchTemplates"] == [] and state["stacks"] == []
