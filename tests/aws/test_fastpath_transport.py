"""The fast path reaches EKS exactly as botocore would: the CA bundle (environment, the AWS config file
and its profiles), the proxy (``HTTPS_PROXY``/``NO_PROXY``), FIPS and dual-stack endpoints; and it steps
aside for what it cannot reproduce. Every expectation is botocore's own behaviour in the same setting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from aiohttp import web

from controlplane.aws import AwsAdapter, AwsError, AwsSettings
from controlplane.aws._fastpath import FastReads
from controlplane.sim._kube import generate_pki

from .conftest import CREDS, REGION

pytestmark = pytest.mark.anyio

FAST_USER_AGENT = "eks-controlplane fast-reads"
_ENV = (
    "AWS_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine sets AWS_CA_BUNDLE and REQUESTS_CA_BUNDLE; each test sets what it means to test."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


class Endpoint:
    """A loopback HTTPS EKS endpoint with its own CA; it records who asked (botocore or the fast path)."""

    def __init__(self, url: str, ca_file: Path) -> None:
        self.url = url
        self.ca_file = ca_file
        self.agents: list[str] = []

    def fast_calls(self) -> int:
        return sum(a == FAST_USER_AGENT for a in self.agents)


@pytest.fixture
async def endpoint(tmp_path: Path) -> AsyncIterator[Endpoint]:
    pki = generate_pki(["127.0.0.1"], ca_name="tls-inspecting-proxy-ca")
    ca_file = tmp_path / "corporate-ca.pem"
    ca_file.write_bytes(pki.ca_pem)

    async def handle(request: web.BaseRequest) -> web.Response:
        seen.agents.append(request.headers.get("User-Agent", ""))
        name = request.path.rsplit("/", 1)[-1]
        return web.json_response({"cluster": {"name": name, "status": "ACTIVE"}})

    runner = web.ServerRunner(web.Server(handle), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=pki.server_context())
    await site.start()
    seen = Endpoint(f"https://127.0.0.1:{runner.addresses[0][1]}", ca_file)
    try:
        yield seen
    finally:
        await runner.cleanup()


class Proxy:
    """A loopback HTTP CONNECT proxy (what HTTPS_PROXY points at); counts the tunnels it opened."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.url = ""


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    state = Proxy()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        state.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield state
        server.close()


async def describe_both(moto_url: str, endpoint: Endpoint) -> list[str]:
    """DescribeCluster through the fast path and through botocore, each in a fresh adapter (a fresh
    botocore session: the configuration is read as it is now). Returns each one's outcome."""
    outcomes = []
    for fast_reads in (True, False):
        settings = AwsSettings(
            endpoint_url=moto_url, endpoint_urls={"eks": endpoint.url}, fast_reads=fast_reads
        )
        async with AwsAdapter(settings) as aws:
            scope = aws.scope_for(CREDS, REGION)
            await scope.get_caller_identity()  # moto (plain HTTP) first, so only EKS is in question
            try:
                outcomes.append((await scope.describe_cluster("c1"))["name"])
            except AwsError as exc:
                outcomes.append(type(exc).__name__)
    return outcomes


def write_config(path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path.write_text(text)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))


async def test_ca_bundle_is_resolved_as_botocore_resolves_it(
    moto_url: str, endpoint: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No CA for the endpoint anywhere: both refuse the certificate.
    assert await describe_both(moto_url, endpoint) == ["AwsConnectionError"] * 2
    assert endpoint.agents == []
    # ca_bundle in the config file's default profile (a TLS-inspecting proxy set up this way).
    config = tmp_path / "config"
    write_config(config, f"[default]\nca_bundle = {endpoint.ca_file}\n", monkeypatch)
    assert await describe_both(moto_url, endpoint) == ["c1", "c1"]
    assert endpoint.fast_calls() == 1 and len(endpoint.agents) == 2
    # ... and in a named profile.
    write_config(config, f"[default]\n\n[profile corp]\nca_bundle = {endpoint.ca_file}\n", monkeypatch)
    assert await describe_both(moto_url, endpoint) == ["AwsConnectionError"] * 2
    monkeypatch.setenv("AWS_PROFILE", "corp")
    assert await describe_both(moto_url, endpoint) == ["c1", "c1"]
    # AWS_CA_BUNDLE beats the file (here another CA: both refuse the endpoint's certificate) ...
    other = tmp_path / "other-ca.pem"
    other.write_bytes(generate_pki(["127.0.0.1"], ca_name="some-other-ca").ca_pem)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(other))
    assert await describe_both(moto_url, endpoint) == ["AwsConnectionError"] * 2
    # ... and REQUESTS_CA_BUNDLE counts when nothing else is set.
    monkeypatch.delenv("AWS_CA_BUNDLE")
    monkeypatch.delenv("AWS_PROFILE")
    write_config(config, "[default]\n", monkeypatch)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(endpoint.ca_file))
    assert await describe_both(moto_url, endpoint) == ["c1", "c1"]
    assert endpoint.fast_calls() == 3


async def test_proxy_and_no_proxy_are_honoured_as_botocore_honours_them(
    moto_url: str, endpoint: Endpoint, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(endpoint.ca_file))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    assert await describe_both(moto_url, endpoint) == ["c1", "c1"]
    host = endpoint.url.removeprefix("https://")
    assert proxy.tunnels == [host, host]  # one tunnel per path: the fast path went through it too
    assert endpoint.fast_calls() == 1
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert await describe_both(moto_url, endpoint) == ["c1", "c1"]
    assert proxy.tunnels == [host, host]  # neither path used the proxy
    assert endpoint.fast_calls() == 2


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield


class Sent(Exception):
    """Raised by a before-send hook: botocore built the request; nothing leaves the machine."""


async def botocore_url(session: AioSession, region: str) -> str:
    """The URL botocore itself sends DescribeCluster to in ``region``, under the current environment."""
    async with session.create_client(
        "eks", region_name=region, aws_access_key_id="a", aws_secret_access_key="b"
    ) as client:

        def stop(request: Any, **_: Any) -> None:
            raise Sent(request.url)

        client.meta.events.register("before-send", stop)
        with pytest.raises(Sent) as sent:
            await client.describe_cluster(name="x")
        return str(sent.value)


@pytest.mark.parametrize(
    "region", ["us-east-1", "us-gov-west-1", "cn-north-1", "us-iso-east-1", "eusc-de-east-1"]
)
@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"AWS_USE_FIPS_ENDPOINT": "true"},
        {"AWS_USE_DUALSTACK_ENDPOINT": "true"},
        {"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "true"},
    ],
)
async def test_fips_and_dual_stack_endpoints_are_botocores(region: str, variant: dict[str, str]) -> None:
    with env(**variant):
        session = AioSession()
        expected = await botocore_url(session, region)
        fast = FastReads(AwsSettings())
        await fast.open()
        try:
            async with session.create_client(
                "eks", region_name=region, aws_access_key_id="a", aws_secret_access_key="b"
            ) as client:
                transport = await fast.transport(("id", region, "eks"), client)
        finally:
            await fast.close()
    assert transport is not None
    assert f"{transport.url}/clusters/x" == expected


async def test_settings_it_cannot_reproduce_make_it_step_aside(endpoint: Endpoint, tmp_path: Path) -> None:
    session = AioSession()
    fast = FastReads(AwsSettings())
    await fast.open()
    key = ("id", REGION, "eks")
    cert = generate_pki(["client"])
    cert_file, key_file = tmp_path / "client.crt", tmp_path / "client.key"
    cert_file.write_bytes(cert.cert_pem)
    key_file.write_bytes(cert.key_pem)
    junk = tmp_path / "not-a-ca.pem"
    junk.write_text("not a certificate\n")
    try:
        for config, verify in [
            (AioConfig(proxies_config={"proxy_ca_bundle": str(endpoint.ca_file)}), None),
            (AioConfig(client_cert=(str(cert_file), str(key_file))), None),
            (AioConfig(), str(junk)),  # botocore fails on it in its own words; so no fast path
            (AioConfig(), None),
            (AioConfig(), False),
        ]:
            async with session.create_client(
                "eks",
                region_name=REGION,
                endpoint_url=endpoint.url,
                verify=verify,
                config=config,
                aws_access_key_id="a",
                aws_secret_access_key="b",
            ) as client:
                transport = await fast.transport(key, client)
                if config.proxies_config or config.client_cert or verify == str(junk):
                    assert transport is None  # botocore sends these calls
                elif verify is False:
                    assert transport is not None and transport.ssl is False  # as botocore: no verification
                else:
                    assert transport is not None and transport.url == endpoint.url
    finally:
        await fast.close()
