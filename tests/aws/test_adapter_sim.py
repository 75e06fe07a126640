"""The EKS helpers moto lacks (updates, add-ons, version upgrades) and throttling, against the
EKS simulator (``controlplane.sim``) over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from botocore.retries.standard import ExponentialBackoff

from controlplane.aws import (
    AwsAdapter,
    AwsScope,
    AwsSettings,
    NotFoundError,
    ResourceInUseError,
    Template,
    ThrottledError,
    UpdateInProgressError,
    render,
    stack_outputs,
)

from .conftest import CREDS, requests_total, sample

sim = pytest.importorskip("controlplane.sim")

REGION = "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/eks"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.001)


@pytest.fixture
async def simulator() -> AsyncIterator[Any]:
    settings = sim.SimSettings(time_scale=0.01, kube_endpoints=False)
    async with sim.Simulator(settings) as server:
        yield server


@pytest.fixture
async def scope(simulator: Any) -> AsyncIterator[AwsScope]:
    async with AwsAdapter(AwsSettings(endpoint_url=simulator.url)) as aws:
        yield aws.scope_for(CREDS, REGION)


async def eventually(probe: Callable[[], Awaitable[Any]], want: Any, timeout: float = 10.0) -> Any:
    async with asyncio.timeout(timeout):
        while (value := await probe()) != want:
            await asyncio.sleep(0.02)
    return value


async def _active_cluster(scope: AwsScope, name: str, version: str = "1.31") -> dict[str, Any]:
    created = await scope.create_cluster(name, ROLE, {"subnetIds": ["subnet-a", "subnet-b"]}, version=version)
    assert created["status"] == "CREATING"

    async def status() -> str:
        return str((await scope.describe_cluster(name))["status"])

    await eventually(status, "ACTIVE")
    return await scope.describe_cluster(name)


@pytest.mark.anyio
async def test_cluster_updates(scope: AwsScope) -> None:
    await _active_cluster(scope, "upd")
    update = await scope.update_cluster_version("upd", "1.32")
    assert update["type"] == "VersionUpdate" and update["status"] == "InProgress"
    with pytest.raises(ResourceInUseError):
        await scope.update_cluster_config(
            "upd", logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}
        )
    assert update["id"] in await scope.list_updates("upd")

    async def update_status() -> str:
        return str((await scope.describe_update("upd", update["id"]))["status"])

    await eventually(update_status, "Successful")
    assert (await scope.describe_cluster("upd"))["version"] == "1.32"
    config = await scope.update_cluster_config(
        "upd", resources_vpc_config={"publicAccessCidrs": ["10.0.0.0/8"]}
    )
    assert config["type"] == "EndpointAccessUpdate"
    with pytest.raises(NotFoundError):
        await scope.describe_update("upd", "00000000-0000-0000-0000-000000000000")


@pytest.mark.anyio
async def test_nodegroup_updates(scope: AwsScope) -> None:
    await _active_cluster(scope, "ngc")
    await scope.create_nodegroup(
        "ngc", "ng1", ROLE, ["subnet-a"], scaling_config={"minSize": 1, "maxSize": 2, "desiredSize": 1}
    )

    async def ng_status() -> str:
        return str((await scope.describe_nodegroup("ngc", "ng1"))["status"])

    await eventually(ng_status, "ACTIVE")
    update = await scope.update_nodegroup_version("ngc", "ng1", version="1.31")
    assert update["type"] == "VersionUpdate"
    assert update["id"] in await scope.list_updates("ngc", nodegroup_name="ng1")
    assert update["id"] not in await scope.list_updates("ngc")
    assert (await scope.describe_update("ngc", update["id"], nodegroup_name="ng1"))["id"] == update["id"]
    await eventually(ng_status, "ACTIVE")
    config = await scope.update_nodegroup_config(
        "ngc", "ng1", labels={"addOrUpdateLabels": {"a": "b"}}, scaling_config={"desiredSize": 2}
    )
    assert config["type"] == "ConfigUpdate"
    with pytest.raises(UpdateInProgressError):  # EKS: one update at a time, and no delete during it
        await scope.delete_nodegroup("ngc", "ng1")
    await eventually(ng_status, "ACTIVE")
    await scope.delete_nodegroup("ngc", "ng1")
    assert await eventually(ng_status_or_gone(scope, "ngc", "ng1"), "gone") == "gone"


def ng_status_or_gone(scope: AwsScope, cluster: str, ng: str) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        try:
            return str((await scope.describe_nodegroup(cluster, ng))["status"])
        except NotFoundError:
            return "gone"

    return probe


@pytest.mark.anyio
async def test_addons(scope: AwsScope) -> None:
    await _active_cluster(scope, "add")
    with pytest.raises(NotFoundError):
        await scope.describe_addon("add", "aws-ebs-csi-driver")
    addon = await scope.create_addon("add", "aws-ebs-csi-driver", service_account_role_arn=ROLE)
    assert addon["addonName"] == "aws-ebs-csi-driver"

    async def addon_status() -> str:
        return str((await scope.describe_addon("add", "aws-ebs-csi-driver"))["status"])

    await eventually(addon_status, "ACTIVE")
    await scope.delete_addon("add", "aws-ebs-csi-driver")


@pytest.mark.anyio
async def test_other_services_are_forwarded_to_moto(scope: AwsScope) -> None:
    assert (await scope.get_caller_identity()).account == "123456789012"
    await scope.create_stack("svc", render(Template.SERVICE_ROLE, REGION), capabilities=["CAPABILITY_IAM"])
    assert stack_outputs(await scope.describe_stack("svc"))["RoleArn"].startswith("arn:aws:iam::")


@pytest.mark.anyio
async def test_simulator_throttling_is_retried_counted_and_typed(simulator: Any, scope: AwsScope) -> None:
    await scope.get_caller_identity()
    await _active_cluster(scope, "thr")
    async with aiohttp.ClientSession() as http:
        faults = {"throttle_probability": 1.0, "services": ["eks"]}
        async with http.put(f"{simulator.url}/_sim/faults", data=json.dumps(faults)) as response:
            assert response.status == 200
        throttles = sample("controlplane_aws_throttles_total", service="eks")
        throttled = requests_total("eks", "DescribeCluster", "throttled")
        with pytest.raises(ThrottledError) as info:
            await scope.describe_cluster("thr")
        assert info.value.code == "TooManyRequestsException"
        assert sample("controlplane_aws_throttles_total", service="eks") == throttles + 3
        assert requests_total("eks", "DescribeCluster", "throttled") == throttled + 1
        async with http.put(f"{simulator.url}/_sim/faults", data="{}") as response:
            assert response.status == 200
    assert (await scope.describe_cluster("thr"))["status"] == "ACTIVE"
