"""EKS's version support status is asked once per region and version, then again after its TTL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from controlplane.aws import AwsAdapter, AwsCredentialSpec, AwsSettings
from controlplane.cluster._versions import VersionSupport
from controlplane.sim import SimSettings, Simulator

pytestmark = pytest.mark.anyio

CREDS = AwsCredentialSpec("AKIATESTKEY000000001", "test-secret-key-1")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimSettings(time_scale=0.01, kube_endpoints=False)) as server:
        yield server


async def _version_calls(sim: Simulator) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{sim.url}/_sim/calls") as resp:
        calls: dict[str, Any] = await resp.json()
    return int(calls.get("eks", {}).get("DescribeClusterVersions", 0))


async def test_one_call_per_region_and_version_until_the_ttl(sim: Simulator) -> None:
    now = [1000.0]
    versions = VersionSupport(ttl=60.0, clock=lambda: now[0])
    async with AwsAdapter(AwsSettings(endpoint_url=sim.url)) as aws:
        west, east = aws.scope_for(CREDS, "us-west-2"), aws.scope_for(CREDS, "us-east-1")
        assert [await versions.status(west, "1.32") for _ in range(3)] == ["STANDARD_SUPPORT"] * 3
        assert await _version_calls(sim) == 1
        assert await versions.status(west, "1.28") == "EXTENDED_SUPPORT"
        assert await versions.status(east, "1.32") == "STANDARD_SUPPORT"
        assert await _version_calls(sim) == 3  # another version, another region: asked
        now[0] += 59.0
        await versions.status(west, "1.32")
        assert await _version_calls(sim) == 3
        now[0] += 2.0
        assert await versions.status(west, "1.32") == "STANDARD_SUPPORT"
        assert await _version_calls(sim) == 4  # past the TTL: asked again
        # A version AWS says nothing of is not remembered: the next refresh asks again.
        assert await versions.status(west, "0.1") == ""
        assert await versions.status(west, "0.1") == ""
        assert await _version_calls(sim) == 6


async def test_the_cache_is_bounded(sim: Simulator) -> None:
    versions = VersionSupport(max_entries=2)
    async with AwsAdapter(AwsSettings(endpoint_url=sim.url)) as aws:
        scope = aws.scope_for(CREDS, "us-west-2")
        for version in ("1.30", "1.31", "1.32", "1.30"):
            await versions.status(scope, version)
        # 1.30 was dropped for 1.32 (the oldest of three), so it was asked twice.
        assert await _version_calls(sim) == 4
        await versions.status(scope, "1.32")
        assert await _version_calls(sim) == 4


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="ttl"):
        VersionSupport(ttl=0)
    with pytest.raises(ValueError, match="max_entries"):
        VersionSupport(max_entries=0)
