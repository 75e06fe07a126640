from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from controlplane.aws import AwsAdapter, AwsCredentialSpec, AwsScope, AwsSettings
from controlplane.metrics import REGISTRY

CREDS = AwsCredentialSpec("AKIATESTKEY000000001", "test-secret-key-1")
REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real AWS: no IMDS, no user config files, no stray endpoint variables, fake default keys."""
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_EKS",
        "AWS_ENDPOINT_URL_STS",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEFAULTCHAIN0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "default-chain-secret")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_url(moto_server: str) -> str:
    """The moto server, reset to an empty state for this test."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return moto_server


@pytest.fixture
async def aws(moto_url: str) -> AsyncIterator[AwsAdapter]:
    async with AwsAdapter(AwsSettings(endpoint_url=moto_url)) as adapter:
        yield adapter


@pytest.fixture
def scope(aws: AwsAdapter) -> AwsScope:
    return aws.scope_for(CREDS, REGION)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_total(service: str, operation: str, outcome: str) -> float:
    return sample("controlplane_aws_requests_total", service=service, operation=operation, outcome=outcome)


async def raises(exc_type: type[BaseException], call: Callable[[], Awaitable[Any]]) -> BaseException:
    with pytest.raises(exc_type) as info:
        await call()
    return info.value
