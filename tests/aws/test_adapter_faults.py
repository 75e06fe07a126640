"""Paging, throttling, retries, error classes, in-flight caps and rate limits over loopback HTTP
against the scripted fake endpoint (EKS, EC2) with STS from moto."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from botocore.retries.standard import ExponentialBackoff

from controlplane.aws import (
    AccessDeniedError,
    AwsAdapter,
    AwsConnectionError,
    AwsCredentialSpec,
    AwsScope,
    AwsSettings,
    ClientRequestError,
    NotFoundError,
    ResourceInUseError,
    ServerError,
    ServiceLimits,
    ThrottledError,
    UpdateInProgressError,
)

from .conftest import CREDS, REGION, requests_total, sample
from .fake_aws import FakeAws, Fault, fake_aws

THROTTLE = Fault(429, "TooManyRequestsException", "Rate exceeded")


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard backoff sleeps up to 2^n seconds between attempts; tests need not."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.001)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAws]:
    async with fake_aws() as server:
        yield server


def _settings(moto_url: str, fake: FakeAws, **overrides: object) -> AwsSettings:
    values: dict[str, object] = {
        "endpoint_url": moto_url,
        "endpoint_urls": {"eks": fake.url, "ec2": fake.url},
        "connect_timeout": 2,
        "read_timeout": 5,
    }
    values.update(overrides)
    return AwsSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def scope(moto_url: str, fake: FakeAws) -> AsyncIterator[AwsScope]:
    async with AwsAdapter(_settings(moto_url, fake)) as aws:
        scope = aws.scope_for(CREDS, REGION)
        await scope.get_caller_identity()  # resolve the account up front (moto)
        yield scope


@pytest.mark.anyio
async def test_every_eks_list_reads_all_pages(scope: AwsScope, fake: FakeAws) -> None:
    fake.clusters = [f"c{i}" for i in range(5)]
    fake.nodegroups = [f"ng{i}" for i in range(7)]
    fake.updates = [f"u{i}" for i in range(3)]
    fake.addons = ["a", "b", "c"]
    fake.addon_versions = ["vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"]
    before = requests_total("eks", "ListClusters", "ok")
    assert await scope.list_clusters() == fake.clusters
    assert requests_total("eks", "ListClusters", "ok") == before + 3  # 2 + 2 + 1
    assert fake.calls["ListClusters"] == 3
    assert await scope.list_nodegroups("c0") == fake.nodegroups
    assert await scope.list_updates("c0") == fake.updates


@pytest.mark.anyio
async def test_throttling_is_retried_and_counted(scope: AwsScope, fake: FakeAws) -> None:
    fake.faults = [THROTTLE, THROTTLE]
    throttles = sample("controlplane_aws_throttles_total", service="eks")
    retries = sample("controlplane_aws_retries_total", service="eks")
    ok = requests_total("eks", "DescribeCluster", "ok")
    cluster = await scope.describe_cluster("c1")  # standard mode: 3 attempts, the third succeeds
    assert cluster["status"] == "ACTIVE"
    assert fake.calls["fault:TooManyRequestsException"] == 2
    assert sample("controlplane_aws_throttles_total", service="eks") == throttles + 2
    assert sample("controlplane_aws_retries_total", service="eks") == retries + 2
    assert requests_total("eks", "DescribeCluster", "ok") == ok + 1


@pytest.mark.anyio
async def test_persistent_throttling_raises_after_max_attempts(scope: AwsScope, fake: FakeAws) -> None:
    fake.always = THROTTLE
    throttled = requests_total("eks", "DescribeCluster", "throttled")
    with pytest.raises(ThrottledError) as info:
        await scope.describe_cluster("c1")
    assert fake.calls["fault:TooManyRequestsException"] == 3
    assert "Rate exceeded" in str(info.value) and info.value.code == "TooManyRequestsException"
    assert requests_total("eks", "DescribeCluster", "throttled") == throttled + 1


@pytest.mark.anyio
async def test_retry_settings_reach_the_clients(moto_url: str, fake: FakeAws) -> None:
    fake.always = THROTTLE
    async with AwsAdapter(_settings(moto_url, fake, max_attempts=5)) as aws:
        with pytest.raises(ThrottledError):
            await aws.scope_for(CREDS, REGION).describe_cluster("c1")
    assert fake.calls["fault:TooManyRequestsException"] == 5
    async with AwsAdapter(_settings(moto_url, fake, retry_mode="adaptive", max_attempts=2)) as aws:
        entry = await aws._clients.acquire((CREDS.identity, REGION, "eks"), aws._identity(CREDS))
        try:
            assert entry.client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 2}
            assert entry.client.meta.config.max_pool_connections == aws.settings.pool_size
        finally:
            await aws._clients.release(entry)


@pytest.mark.parametrize(
    ("fault", "error", "outcome"),
    [
        (Fault(403, "AccessDeniedException", "User is not authorized"), AccessDeniedError, "access_denied"),
        (Fault(404, "ResourceNotFoundException", "No cluster found"), NotFoundError, "not_found"),
        (Fault(409, "ResourceInUseException", "Cluster already exists"), ResourceInUseError, "in_use"),
        (Fault(400, "InvalidParameterException", "bad version"), ClientRequestError, "client_error"),
        (Fault(500, "ServerException", "boom"), ServerError, "server_error"),
    ],
)
@pytest.mark.anyio
async def test_error_classes(
    scope: AwsScope, fake: FakeAws, fault: Fault, error: type[Exception], outcome: str
) -> None:
    fake.always = fault
    before = requests_total("eks", "DescribeCluster", outcome)
    with pytest.raises(error) as info:
        await scope.describe_cluster("c1")
    assert type(info.value) is error
    assert fault.message in str(info.value)
    assert requests_total("eks", "DescribeCluster", outcome) == before + 1
    # 5xx are retried by botocore; 4xx are not.
    assert fake.calls[f"fault:{fault.code}"] == (3 if fault.status >= 500 else 1)


@pytest.mark.anyio
async def test_update_in_progress(scope: AwsScope, fake: FakeAws) -> None:
    assert (await scope.update_cluster_version("c1", "1.32"))["status"] == "InProgress"
    fake.always = Fault(409, "ResourceInUseException", "Cluster c1 currently has update u-1 in progress")
    with pytest.raises(UpdateInProgressError) as info:
        await scope.update_cluster_version("c1", "1.32")
    assert isinstance(info.value, ResourceInUseError)


@pytest.mark.anyio
async def test_connection_refused(moto_url: str, fake: FakeAws) -> None:
    await fake_aws_stop(fake)
    url = fake.url
    settings = _settings(moto_url, fake, max_attempts=2, connect_timeout=1)
    async with AwsAdapter(settings) as aws:
        with pytest.raises(AwsConnectionError) as info:
            await aws.scope_for(CREDS, REGION).describe_cluster("c1")
    assert url in str(info.value)


async def fake_aws_stop(fake: FakeAws) -> None:
    # Point the fake's URL at a port nobody listens on.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}"


@pytest.mark.anyio
async def test_in_flight_cap_per_account_region_service(moto_url: str, fake: FakeAws) -> None:
    fake.delay = 0.01
    settings = _settings(
        moto_url,
        fake,
        pool_size=8,
        limits={"eks": ServiceLimits(rate=None, max_in_flight=3)},
        default_limits=ServiceLimits(max_in_flight=8),
    )
    async with AwsAdapter(settings) as aws:
        one = aws.scope_for(CREDS, REGION)
        await one.get_caller_identity()
        # A second key pair of the same account shares the cap.
        two = aws.scope_for(AwsCredentialSpec("AKIAOTHERKEY00000001", "other"), REGION)
        await two.get_caller_identity()
        gauge_peak = 0.0

        async def watch() -> None:
            nonlocal gauge_peak
            while True:
                gauge_peak = max(gauge_peak, sample("controlplane_aws_requests_in_flight", service="eks"))
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(s.describe_cluster(f"c{i}") for i in range(8) for s in (one, two)))
        watcher.cancel()
        assert fake.peak_in_flight == 3
        assert gauge_peak <= 3
        # Another region has its own cap.
        await aws.scope_for(CREDS, "eu-west-1").describe_cluster("warm-up")  # build that client first
        fake.delay = 0.05
        fake.peak_in_flight = 0
        await asyncio.gather(
            *(
                aws.scope_for(CREDS, r).describe_cluster("c")
                for r in ("us-east-1", "eu-west-1")
                for _ in range(6)
            )
        )
        assert fake.peak_in_flight == 6


@pytest.mark.anyio
async def test_rate_limit_waits_between_calls(moto_url: str, fake: FakeAws) -> None:
    slept: list[float] = []

    async def record_sleep(delay: float) -> None:
        slept.append(delay)

    settings = _settings(moto_url, fake, limits={"eks": ServiceLimits(rate=2.0, burst=2, max_in_flight=4)})
    # A frozen clock: no refill happens, so each reservation is exactly 0.5 s after the previous one.
    async with AwsAdapter(settings, sleep=record_sleep, clock=lambda: 1000.0) as aws:
        scope = aws.scope_for(CREDS, REGION)
        await scope.get_caller_identity()
        for i in range(5):
            await scope.describe_cluster(f"c{i}")
    # Burst of 2, then one call per 0.5 s at 2/s.
    assert slept == [pytest.approx(0.5), pytest.approx(1.0), pytest.approx(1.5)]
    assert sample("controlplane_aws_rate_limit_wait_seconds_count", service="eks") > 0


@pytest.mark.anyio
async def test_delete_launch_template_versions_batches(scope: AwsScope, fake: FakeAws) -> None:
    versions = [1, *range(2, 452), 1001, 1002, 5, 5]
    result = await scope.delete_launch_template_versions("lt-0123", versions)
    assert [len(b) for b in fake.ec2_batches] == [200, 200, 53]
    assert sorted(v for b in fake.ec2_batches for v in b) == sorted(set(versions))
    assert sorted(result.deleted) == list(range(2, 452))
    assert result.gone == [1001, 1002]
    assert [(f.version, f.code) for f in result.failed] == [(1, "launchTemplateVersionIsDefault")]
    assert (await scope.delete_launch_template_versions("lt-0123", [])).deleted == []


@pytest.mark.anyio
async def test_cancelled_call_releases_its_slot(moto_url: str, fake: FakeAws) -> None:
    fake.delay = 0.2
    settings = _settings(moto_url, fake, limits={"eks": ServiceLimits(rate=None, max_in_flight=1)})
    async with AwsAdapter(settings) as aws:
        scope = aws.scope_for(CREDS, REGION)
        await scope.get_caller_identity()
        task = asyncio.create_task(scope.describe_cluster("slow"))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        fake.delay = 0.0
        assert (await asyncio.wait_for(scope.describe_cluster("next"), 2))["name"] == "next"
        assert sample("controlplane_aws_requests_in_flight", service="eks") == 0
