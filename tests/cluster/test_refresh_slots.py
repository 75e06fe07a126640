"""Sync ticks wait for one of the process's refresh slots (``[sync] max_concurrent_refreshes``) with their
cluster still encoded: a backlog of ticks (a dead replica's shards taken over) holds bytes, not decoded
clusters, and the ticks all refresh once slots free up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from controlplane.api import Credential
from controlplane.cluster import ClusterActor, SyncTick
from controlplane.config import ConfigError, load_settings
from controlplane.metrics import SYNC_REFRESHES_WAITING, SYNC_TICKS
from controlplane.service import Service
from controlplane.sim import SimSettings, Simulator

from .conftest import FAST, World, converged, service_settings
from .manifests import created

pytestmark = pytest.mark.anyio

NAMES = ("slot-a", "slot-b", "slot-c")


@pytest.fixture
async def one_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDDEFAULT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "default-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    async with Simulator(SimSettings(time_scale=FAST)) as sim, aiohttp.ClientSession() as http:
        settings = service_settings(tmp_path, sim.url, sync={"max_concurrent_refreshes": 1})
        async with Service(settings) as svc:
            await svc.store.put_credential(
                Credential(namespace="default", name="test", access_key="AKIDTEST", secret_key="test-secret")
            )
            yield World(sim, svc, http)


def _refreshed() -> float:
    return float(SYNC_TICKS.labels("refreshed")._value.get())


def _describes(calls: dict[str, Any]) -> int:
    return int(calls.get("eks", {}).get("DescribeCluster", 0))


async def test_ticks_wait_for_a_slot_encoded_then_all_refresh(one_slot: World) -> None:
    world = one_slot
    for name in NAMES:
        await world.apply(created(name))
    for name in NAMES:
        await world.wait_for(name, converged, what="converged")
    slots = world.svc.deps.refresh_slots
    assert slots is not None
    actors = [world.svc.fleet.actor(name) for name in NAMES]
    assert all(isinstance(a, ClusterActor) for a in actors)
    refreshed0, waiting0 = _refreshed(), SYNC_REFRESHES_WAITING._value.get()
    async with slots:  # the test holds the only slot: no tick can refresh
        for actor in actors:
            assert actor is not None
            actor.tell(SyncTick())
        with anyio.fail_after(10):
            while SYNC_REFRESHES_WAITING._value.get() < waiting0 + len(NAMES):
                await anyio.sleep(0.01)
        # Every tick is in hand and waiting, with its cluster still encoded, and none refreshed.
        assert all(a is not None and a._cluster is None for a in actors)
        assert _refreshed() == refreshed0
        describes = _describes(await world.calls())
    with anyio.fail_after(30):
        while _refreshed() < refreshed0 + len(NAMES):
            await anyio.sleep(0.01)
    # Each tick refreshed once from AWS (the simulator was asked), and no one waits any more.
    assert _refreshed() == refreshed0 + len(NAMES)
    assert _describes(await world.calls()) >= describes + len(NAMES)
    assert SYNC_REFRESHES_WAITING._value.get() == waiting0
    # Each parks again once its message is done (the counter moves before the status is written).
    with anyio.fail_after(30):
        while not all(a is not None and a._cluster is None for a in actors):
            await anyio.sleep(0.01)


def test_a_refresh_bound_below_one_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sync\.max_concurrent_refreshes: must be >= 1"):
        load_settings(env={}, overrides={"sync": {"max_concurrent_refreshes": 0}})
    assert load_settings(env={}).sync.max_concurrent_refreshes == 64
