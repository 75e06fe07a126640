"""Each simulated cluster gets a downstream Kubernetes API (KubeFleet) reachable with the EKS answer."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from botocore.credentials import ReadOnlyCredentials

from controlplane.sim import SimSettings, Simulator
from controlplane.token import mint_token

from .conftest import aws, make_cluster, status_of, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def ksim() -> AsyncIterator[Simulator]:
    async with Simulator(SimSettings(time_scale=0.01)) as s:
        s.credentials["AKIDSIM"] = "x"
        yield s


async def _get(cluster: dict[str, Any], path: str, token: str | None) -> int:
    ca = base64.b64decode(cluster["certificateAuthority"]["data"]).decode()
    ctx = ssl.create_default_context(cadata=ca)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as h, h.get(cluster["endpoint"] + path, ssl=ctx, headers=headers) as r:
        return r.status


async def test_public_cluster_serves_kubernetes_with_iam_token(ksim: Simulator) -> None:
    async with aws(ksim, "eks") as eks:
        await make_cluster(eks, "k1")

        async def active() -> bool:
            return await status_of(eks, "k1") == "ACTIVE"

        await wait_for(active)
        c = (await eks.describe_cluster(name="k1"))["cluster"]
    assert c["certificateAuthority"]["data"]
    creds = ReadOnlyCredentials("AKIDSIM", "x", None)
    token = mint_token(cluster_name="k1", region="us-west-2", credentials=creds)
    assert await _get(c, "/api/v1/namespaces", token) == 200
    assert await _get(c, "/api/v1/namespaces", None) == 401
    wrong = mint_token(
        cluster_name="k1", region="us-west-2", credentials=ReadOnlyCredentials("AKIDSIM", "bad", None)
    )
    assert await _get(c, "/api/v1/namespaces", wrong) == 401


async def test_private_cluster_endpoint_does_not_resolve_and_follows_access_updates(ksim: Simulator) -> None:
    async with aws(ksim, "eks") as eks:
        await make_cluster(eks, "p1", vpc={"endpointPublicAccess": False, "endpointPrivateAccess": True})

        async def active() -> bool:
            return await status_of(eks, "p1") == "ACTIVE"

        await wait_for(active)
        c = (await eks.describe_cluster(name="p1"))["cluster"]
        assert c["endpoint"].endswith(".invalid")
        await eks.update_cluster_config(name="p1", resourcesVpcConfig={"endpointPublicAccess": True})
        await wait_for(active)
        c = (await eks.describe_cluster(name="p1"))["cluster"]
        assert c["endpoint"].startswith("https://127.0.0.1:")
