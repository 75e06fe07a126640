"""Fault injection: throttling, 5xx, resets and latency hit AWS requests, never the control API."""

from __future__ import annotations

from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from controlplane.sim import FaultSettings, SimSettings, Simulator

from .conftest import _SESSION, aws, make_cluster

pytestmark = pytest.mark.anyio

NO_RETRY = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})


def eks_client(sim: Simulator, config: AioConfig = NO_RETRY) -> Any:
    return _SESSION.create_client(
        "eks",
        endpoint_url=sim.url,
        region_name="us-west-2",
        aws_access_key_id="AKIDSIM",
        aws_secret_access_key="x",
        config=config,
    )


async def put_faults(sim: Simulator, doc: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as h,
        h.put(sim.url + "/_sim/faults", data=msgspec.json.encode(doc)) as r,
    ):
        assert r.status == 200


async def test_throttle_by_probability_is_429(sim: Simulator) -> None:
    await put_faults(sim, {"throttle_probability": 1.0})
    async with eks_client(sim) as eks:
        with pytest.raises(ClientError) as e:
            await eks.list_clusters()
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    # the control API is never faulted
    async with aiohttp.ClientSession() as h, h.get(sim.url + "/_sim/calls") as r:
        calls = await r.json()
    assert r.status == 200
    assert calls["eks"]["ListClusters"] == 1 and calls["_faults"]["throttle"] == 1


async def test_throttle_code_is_configurable(sim: Simulator) -> None:
    sim.set_faults(FaultSettings(throttle_probability=0.5, throttle_code="ThrottlingException", seed=7))
    async with eks_client(sim) as eks:
        codes = []
        for _ in range(20):
            try:
                await eks.list_clusters()
                codes.append("ok")
            except ClientError as e:
                codes.append(e.response["Error"]["Code"])
        assert set(codes) == {"ok", "ThrottlingException"}


async def test_token_bucket(sim: Simulator) -> None:
    sim.set_faults(FaultSettings(throttle_rate=1.0, throttle_burst=3, services=("eks",)))
    ok = throttled = 0
    async with eks_client(sim) as eks:
        for _ in range(8):
            try:
                await eks.list_clusters()
                ok += 1
            except ClientError:
                throttled += 1
    assert ok in (3, 4) and throttled == 8 - ok
    # other services are not in `services`: STS still answers
    async with aws(sim, "sts") as sts:
        assert (await sts.get_caller_identity())["Account"] == "123456789012"


async def test_server_errors(sim: Simulator) -> None:
    sim.set_faults(FaultSettings(error_probability=1.0))
    async with eks_client(sim) as eks:
        with pytest.raises(ClientError) as e:
            await eks.list_clusters()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert e.value.response["Error"]["Code"] == "ServerException"
    sim.set_faults(FaultSettings(error_probability=1.0, error_status=503))
    async with _SESSION.create_client(
        "cloudformation",
        endpoint_url=sim.url,
        region_name="us-west-2",
        aws_access_key_id="A",
        aws_secret_access_key="x",
        config=NO_RETRY,
    ) as cfn:
        with pytest.raises(ClientError) as e:
            await cfn.describe_stacks()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


async def test_forwarded_throttle_uses_service_codes(sim: Simulator) -> None:
    sim.set_faults(FaultSettings(throttle_probability=1.0))
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})
    kw = {
        "endpoint_url": sim.url,
        "region_name": "us-west-2",
        "aws_access_key_id": "A",
        "aws_secret_access_key": "x",
        "config": config,
    }
    async with _SESSION.create_client("ec2", **kw) as ec2:
        with pytest.raises(ClientError) as e:
            await ec2.describe_launch_templates()
    assert e.value.response["Error"]["Code"] == "RequestLimitExceeded"
    async with _SESSION.create_client("cloudformation", **kw) as cfn:
        with pytest.raises(ClientError) as e:
            await cfn.describe_stacks()
    assert e.value.response["Error"]["Code"] == "Throttling"


async def test_connection_reset(sim: Simulator) -> None:
    sim.set_faults(FaultSettings(reset_probability=1.0))
    async with eks_client(sim) as eks:
        with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
            await eks.list_clusters()
    sim.set_faults(FaultSettings())
    async with eks_client(sim) as eks:
        assert (await eks.list_clusters())["clusters"] == []


async def test_latency_fixed() -> None:
    faults = FaultSettings(latency="fixed", latency_seconds=0.05)
    async with Simulator(SimSettings(time_scale=0.01, kube_endpoints=False, faults=faults)) as sim:
        async with eks_client(sim) as eks:
            await eks.list_clusters()  # warm the connection
            start = anyio.current_time()
            await eks.list_clusters()
            assert anyio.current_time() - start >= 0.05
        async with aiohttp.ClientSession() as h:
            async with h.get(sim.url + "/_sim/calls") as r:
                assert r.status == 200
            start = anyio.current_time()
            async with h.get(sim.url + "/_sim/calls") as r:
                assert r.status == 200
            assert anyio.current_time() - start < 0.05  # the control API gets no latency
            async with h.get(sim.url + "/_sim/faults") as r:
                assert (await r.json())["latency"] == "fixed"


async def test_reset_clears_faults_state_and_moto(sim: Simulator) -> None:
    async with aws(sim, "eks") as eks, aws(sim, "ec2") as ec2:
        await make_cluster(eks, "r1")
        await ec2.create_launch_template(LaunchTemplateName="lt", LaunchTemplateData={"UserData": "eA=="})
        sim.set_faults(FaultSettings(throttle_probability=1.0))
        async with aiohttp.ClientSession() as h, h.post(sim.url + "/_sim/reset") as r:
            assert r.status == 200
        assert (await eks.list_clusters())["clusters"] == []
        assert (await ec2.describe_launch_templates())["LaunchTemplates"] == []
    async with aiohttp.ClientSession() as h, h.get(sim.url + "/_sim/calls") as r:
        calls = await r.json()
    assert calls["eks"] == {"ListClusters": 1}
