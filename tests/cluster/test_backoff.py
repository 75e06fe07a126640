"""A cluster whose passes keep failing retries with the operator's work-queue backoff (issue 17).

Today's defect: the kernel and the cluster actor shared one failure counter, the kernel reset it after
every message, and a failing cluster retried at the base interval forever, burning the account's API
budget. Counted here the way AWS would see it: the simulator's recorded calls.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anyio
import pytest

from controlplane.api import Credential
from controlplane.cluster._phases import retry_delay
from controlplane.config import LifecycleSettings
from controlplane.service import Service
from controlplane.sim import SimSettings, Simulator

from .conftest import FAST, World, service_settings
from .manifests import imported

pytestmark = pytest.mark.anyio


def test_retry_delay_doubles_caps_then_slows_down() -> None:
    lc = LifecycleSettings()
    delays = [retry_delay(n, lc) for n in range(1, 33)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert all(b == min(2 * a, lc.backoff_max) for a, b in itertools.pairwise(delays[:30]))
    assert delays[29] == lc.backoff_max  # the 30th failure in a row still waits backoff_max
    assert delays[30:] == [lc.backoff_slow, lc.backoff_slow]  # then 2 minutes per retry


@pytest.fixture
async def slow_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDDEFAULT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "default-secret")
    # backoff_base 5 s at time scale 0.01: retries after 50, 100, 200, 400, 800 ms.
    async with Simulator(SimSettings(time_scale=FAST)) as sim, aiohttp.ClientSession() as http:
        settings = service_settings(tmp_path, sim.url, lifecycle={"backoff_base": 5.0, "backoff_max": 500.0})
        async with Service(settings) as svc:
            await svc.store.put_credential(
                Credential(namespace="default", name="test", access_key="AKIDTEST", secret_key="test-secret")
            )
            yield World(sim, svc, http)


async def test_a_cluster_failing_every_pass_backs_off_exponentially(slow_world: World) -> None:
    world = slow_world
    # Importing a cluster that is not in EKS fails every pass with a DescribeCluster error.
    began = time.monotonic()
    await world.apply(imported("ghost", displayName="no-such-cluster"))
    seen: list[float] = []
    last = 0
    with anyio.move_on_after(1.7):
        while True:
            calls = await world.calls()
            count = int(calls.get("eks", {}).get("DescribeCluster", 0))
            if count != last:
                seen.extend([time.monotonic() - began] * (count - last))
                last = count
            await anyio.sleep(0.005)
    cluster = await world.get("ghost")
    assert "error describing cluster no-such-cluster for import" in cluster.status.failure_message
    # At the base interval (the defect) this window held about 1.7 / 0.05 = 34 passes; with the
    # backoff, five or six (0, 0.05, 0.15, 0.35, 0.75, 1.55 s).
    assert 4 <= len(seen) <= 7, seen
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    # Each wait doubles: compare the longer gaps, where loop and polling jitter are small beside them.
    for shorter, longer in itertools.pairwise(gaps[1:]):
        assert 1.5 <= longer / shorter <= 2.7, gaps
