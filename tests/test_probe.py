from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

from controlplane.metrics import REGISTRY
from controlplane.probe import Prober, ProbeResult, ProbeSettings, ssl_context_for_ca
from controlplane.sim._kube import Pki, generate_pki

FAST = ProbeSettings(dns_timeout=2.0, connect_timeout=1.0, handshake_timeout=0.1)


def verdicts(verdict: str) -> float:
    return REGISTRY.get_sample_value("controlplane_probe_verdicts_total", {"verdict": verdict}) or 0.0


@pytest.fixture(scope="module")
def pki() -> Pki:
    return generate_pki(["127.0.0.1", "localhost"])


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Listener:
    """A loopback listener that counts concurrent and total connections."""

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0
        self.total = 0
        self.port = 0

    def wrap(self, inner: Handler) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.current += 1
            self.total += 1
            self.peak = max(self.peak, self.current)
            try:
                await inner(reader, writer)
            finally:
                self.current -= 1
                writer.close()

        return handler


async def _serve(handler: Handler, listener: Listener, **kwargs: Any) -> AsyncIterator[Listener]:
    server = await asyncio.start_server(listener.wrap(handler), "127.0.0.1", 0, **kwargs)
    listener.port = server.sockets[0].getsockname()[1]
    async with server:
        yield listener


async def _drain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(4096):
        pass


@pytest.fixture
async def tls_server(pki: Pki) -> AsyncIterator[Listener]:
    async for listener in _serve(_drain, Listener(), ssl=pki.server_context()):
        yield listener


@pytest.fixture
async def silent_server() -> AsyncIterator[Listener]:
    """Accepts TCP and never speaks TLS."""
    async for listener in _serve(_drain, Listener()):
        yield listener


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


@pytest.mark.anyio
async def test_tls_server_is_direct(pki: Pki, tls_server: Listener) -> None:
    before = verdicts("direct")
    result = await Prober(FAST).probe(f"https://127.0.0.1:{tls_server.port}/k8s/x", ca_data=pki.ca_data)
    assert result.verdict == "direct", result.reason
    assert not result.cached
    assert verdicts("direct") == before + 1


@pytest.mark.anyio
async def test_localhost_name_is_checked_against_the_certificate(pki: Pki, tls_server: Listener) -> None:
    result = await Prober(FAST).probe(f"https://localhost:{tls_server.port}", ca_data=pki.ca_data)
    assert result.verdict == "direct", result.reason


@pytest.mark.anyio
async def test_wrong_ca_is_unknown(tls_server: Listener) -> None:
    other = generate_pki(["127.0.0.1"])
    result = await Prober(FAST).probe(f"https://127.0.0.1:{tls_server.port}", ca_data=other.ca_data)
    assert result.verdict == "unknown"
    assert "verification" in result.reason


@pytest.mark.anyio
async def test_unresolvable_name_is_tunnel(pki: Pki) -> None:
    before = verdicts("tunnel")
    result = await Prober(FAST).probe("https://x.invalid", ca_data=pki.ca_data)
    assert result.verdict == "tunnel", result.reason
    assert "does not resolve" in result.reason
    assert verdicts("tunnel") == before + 1


@pytest.mark.anyio
async def test_listener_that_never_speaks_tls_is_tunnel(pki: Pki, silent_server: Listener) -> None:
    with anyio.fail_after(2):
        result = await Prober(FAST).probe(f"https://127.0.0.1:{silent_server.port}", ca_data=pki.ca_data)
    assert result.verdict == "tunnel"
    assert "handshake" in result.reason and "timed out" in result.reason


@pytest.mark.anyio
async def test_connection_refused_is_unknown(pki: Pki, closed_port: int) -> None:
    # Rancher: connection refused is neither a non-temporary DNS error nor a timeout -> undecided, retried.
    before = verdicts("unknown")
    prober = Prober(FAST)
    result = await prober.probe(f"https://127.0.0.1:{closed_port}", ca_data=pki.ca_data)
    assert result.verdict == "unknown"
    assert "connection refused" in result.reason
    assert verdicts("unknown") == before + 1
    # "unknown" is never cached: it means try again.
    assert not (await prober.probe(f"https://127.0.0.1:{closed_port}", ca_data=pki.ca_data)).cached


@pytest.mark.anyio
async def test_dns_timeout_is_tunnel_and_temporary_failure_unknown(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[float] = []

    def slow(*args: Any, **kwargs: Any) -> Any:
        started.append(time.monotonic())
        time.sleep(0.3)  # a resolver that answers late: the lookup runs in the prober's own threads
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    prober = Prober(ProbeSettings(dns_timeout=0.05, dns_threads=1))
    try:
        result = await prober.probe("https://slow.example.test", ca_data=pki.ca_data)
        assert result.verdict == "tunnel" and "timed out" in result.reason
        # The abandoned lookup still holds the only resolver thread: no second lookup piles up behind
        # it (the probe times out waiting), and one runs again once the thread is free.
        second = await prober.probe("https://slow2.example.test", ca_data=pki.ca_data)
        assert second.verdict == "tunnel" and len(started) == 1
        await anyio.sleep(0.35)
        await prober.probe("https://slow3.example.test", ca_data=pki.ca_data)
        assert len(started) == 2

        def temporary(*args: Any, **kwargs: Any) -> Any:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

        monkeypatch.setattr(socket, "getaddrinfo", temporary)
        await anyio.sleep(0.35)  # the slow lookup of slow3 frees the thread
        result = await prober.probe("https://flaky.example.test", ca_data=pki.ca_data)
        assert result.verdict == "unknown" and "temporary" in result.reason
    finally:
        prober.close()


@pytest.mark.anyio
async def test_bad_inputs_are_unknown(pki: Pki) -> None:
    prober = Prober(FAST)
    assert (await prober.probe("https://127.0.0.1:1", ca_data="not base64!")).verdict == "unknown"
    assert (await prober.probe("http://127.0.0.1:1", ca_data=pki.ca_data)).verdict == "unknown"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_cache_ttl_forget_and_bound(pki: Pki, tls_server: Listener) -> None:
    clock = Clock()
    prober = Prober(ProbeSettings(cache_ttl=60, cache_size=2, handshake_timeout=1), clock=clock)
    endpoint = f"https://127.0.0.1:{tls_server.port}"
    first = await prober.probe(endpoint, ca_data=pki.ca_data)
    before = verdicts("direct")
    second = await prober.probe(endpoint, ca_data=pki.ca_data)
    assert (first.verdict, second.verdict, second.cached) == ("direct", "direct", True)
    assert tls_server.total == 1  # served from the cache: no connection
    assert verdicts("direct") == before  # cached answers are not new verdicts

    clock.now += 60
    assert not (await prober.probe(endpoint, ca_data=pki.ca_data)).cached
    assert tls_server.total == 2

    prober.forget(endpoint)
    assert not (await prober.probe(endpoint, ca_data=pki.ca_data)).cached
    assert tls_server.total == 3

    # Bounded: a third endpoint evicts the least recently used.
    await prober.probe(endpoint + "/a", ca_data=pki.ca_data)
    await prober.probe(endpoint, ca_data=pki.ca_data)  # endpoint is now most recent
    await prober.probe(endpoint + "/b", ca_data=pki.ca_data)  # evicts /a
    assert (await prober.probe(endpoint, ca_data=pki.ca_data)).cached
    assert not (await prober.probe(endpoint + "/a", ca_data=pki.ca_data)).cached


class CountingProber(Prober):
    """Observes how many probes run at once inside the concurrency cap."""

    current = 0
    peak = 0

    async def _probe(self, endpoint: str, ca_data: str) -> ProbeResult:
        self.current += 1
        self.peak = max(self.peak, self.current)
        try:
            return await super()._probe(endpoint, ca_data)
        finally:
            self.current -= 1


@pytest.mark.anyio
async def test_concurrency_cap(pki: Pki, silent_server: Listener) -> None:
    prober = CountingProber(ProbeSettings(max_concurrency=2, handshake_timeout=0.05))

    async def one(i: int) -> None:
        result = await prober.probe(f"https://127.0.0.1:{silent_server.port}/{i}", ca_data=pki.ca_data)
        assert result.verdict == "tunnel"

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(one, i)
            await anyio.sleep(0.02)
            assert prober.in_flight == 2  # the others wait for a slot
    assert silent_server.total == 6  # every endpoint was probed (distinct cache keys)
    assert prober.peak == 2  # never more than the cap at once, and the cap was used
    assert prober.in_flight == 0


def test_settings_are_frozen_and_validated() -> None:
    settings = ProbeSettings()
    with pytest.raises(AttributeError):
        settings.connect_timeout = 1.0  # type: ignore[misc]
    assert (settings.connect_timeout, settings.handshake_timeout) == (30.0, 10.0)  # Rancher's dialer
    with pytest.raises(ValueError):
        Prober(ProbeSettings(max_concurrency=0))


def test_ssl_context_for_ca_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        ssl_context_for_ca("bm90IGEgY2VydA==")  # base64 of "not a cert"
