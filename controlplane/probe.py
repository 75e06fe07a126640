"""Endpoint prober: does a cluster's API endpoint answer directly, or does it need a tunnel?

Rancher decides this once for clusters whose upstream ``publicAccess`` is false
(rancher-eks-management-behavior.md §3): it dials the endpoint with a plain dialer (30 s connect,
10 s TLS handshake) and classifies the failure:

- a DNS error that is not temporary (the name does not resolve)            -> ``tunnel``
- a timeout (DNS, TCP connect, TLS handshake)                              -> ``tunnel``
- anything else (connection refused, unreachable, TLS verification errors,
  temporary DNS failures, resets)                                          -> ``unknown`` (retry later)

Rancher's "no tunnel needed" additionally requires the whole service-account-token procedure to
succeed over that connection; this prober stops after a verified TLS handshake (``direct``), and
the caller runs :mod:`controlplane.downstream` next, treating its failures as ``unknown``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import errno
import functools
import os
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import anyio
import msgspec

from controlplane.metrics import PROBE_SECONDS, PROBE_VERDICTS

__all__ = ["ProbeResult", "ProbeSettings", "Prober", "Verdict", "ssl_context_for_ca"]

Verdict = Literal["direct", "tunnel", "unknown"]

# getaddrinfo failures that are not an answer about the name: the resolver or the host is in trouble.
_GAI_RETRY: Final = frozenset(
    code for code in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None), socket.EAI_MEMORY) if code
)


class ProbeSettings(msgspec.Struct, frozen=True, kw_only=True):
    dns_timeout: float = 10.0
    """Seconds allowed for name resolution. Rancher counts it inside its 30 s dial timeout; a shorter
    own cap keeps a silent resolver from holding a probe slot. A timeout means ``tunnel``."""
    connect_timeout: float = 30.0
    """Seconds allowed for the TCP connect over all resolved addresses (Rancher's dialer: 30 s).
    A timeout means ``tunnel`` (the typical symptom of private IPs that are not routable from here)."""
    handshake_timeout: float = 10.0
    """Seconds allowed for the TLS handshake (client-go's default: 10 s). A timeout means ``tunnel``."""
    cache_ttl: float = 300.0
    """Seconds a ``direct`` or ``tunnel`` verdict is reused for the same endpoint. ``unknown`` is never
    cached: it means "try again"."""
    cache_size: int = 4096
    """Most endpoints kept in the verdict cache (least recently used evicted)."""
    max_concurrency: int = 64
    """Most probes in flight at once; more callers wait for a slot."""
    dns_threads: int = 16
    """Threads of the prober's own resolver. Lookups never run in asyncio's shared default executor
    (6 threads on 2 cores), and a lookup abandoned at ``dns_timeout`` keeps its thread until the
    resolver answers, so a slow resolver fills this pool, not everyone else's."""


class ProbeResult(msgspec.Struct, frozen=True, kw_only=True):
    verdict: Verdict
    reason: str
    """Short cause for logs and condition messages (no secrets: endpoints are not secret)."""
    cached: bool = False


@functools.lru_cache(maxsize=256)
def ssl_context_for_ca(ca_data: str) -> ssl.SSLContext:
    """A client context trusting only the cluster CA (``certificateAuthority.data``: base64 of PEM).

    Cached because loading a CA costs about a millisecond and contexts are reusable across connections.
    Raises ``ValueError`` for data that is not base64 of a PEM certificate bundle.
    """
    try:
        pem = base64.b64decode(ca_data, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("certificate authority data is not base64 of a PEM bundle") from exc
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        context.load_verify_locations(cadata=pem)
    except ssl.SSLError as exc:
        raise ValueError("certificate authority data holds no usable certificate") from exc
    return context


def _host_port(endpoint: str) -> tuple[str, int]:
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("endpoint must be an https URL with a host")
    return parts.hostname, parts.port or 443


class Prober:
    """Probes endpoints with a concurrency cap and a bounded TTL cache of verdicts.

    A plain object without background tasks: every probe opens and closes its own socket.
    """

    def __init__(self, settings: ProbeSettings | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.settings = settings or ProbeSettings()
        if self.settings.max_concurrency < 1 or self.settings.cache_size < 1:
            raise ValueError("max_concurrency and cache_size must be at least 1")
        self._clock = clock
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)
        self._resolver = ThreadPoolExecutor(
            max_workers=self.settings.dns_threads, thread_name_prefix="probe-dns"
        )
        self._dns_slots = asyncio.Semaphore(self.settings.dns_threads)
        self._cache: collections.OrderedDict[str, tuple[float, ProbeResult]] = collections.OrderedDict()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Probes currently holding a concurrency slot."""
        return self._in_flight

    def close(self) -> None:
        """Stop the resolver threads (lookups still running finish on their own)."""
        self._resolver.shutdown(wait=False, cancel_futures=True)

    async def _getaddrinfo(self, host: str, port: int) -> list[Any]:
        """getaddrinfo in the prober's pool; a slot is held until the thread is really free."""
        if host.rstrip(".").lower().endswith(".invalid"):
            # RFC 6761: names under .invalid never resolve; no resolver needs to be asked.
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        loop = asyncio.get_running_loop()
        await self._dns_slots.acquire()
        try:
            job = self._resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        except BaseException:
            self._dns_slots.release()
            raise

        def free(_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop may have closed meanwhile
                loop.call_soon_threadsafe(self._dns_slots.release)

        job.add_done_callback(free)
        return await asyncio.wrap_future(job)

    def forget(self, endpoint: str) -> None:
        """Drop the cached verdict of ``endpoint`` (e.g. after its endpoint access changed)."""
        self._cache.pop(endpoint, None)

    async def probe(self, endpoint: str, *, ca_data: str) -> ProbeResult:
        """Classify ``endpoint`` (``https://host[:port][/path]``) as ``direct``, ``tunnel`` or ``unknown``."""
        hit = self._cache.get(endpoint)
        if hit is not None:
            expires_at, result = hit
            if self._clock() < expires_at:
                self._cache.move_to_end(endpoint)
                return msgspec.structs.replace(result, cached=True)
            del self._cache[endpoint]
        async with self._slots:
            self._in_flight += 1
            started = time.perf_counter()
            try:
                result = await self._probe(endpoint, ca_data)
            finally:
                self._in_flight -= 1
                PROBE_SECONDS.observe(time.perf_counter() - started)
        PROBE_VERDICTS.labels(result.verdict).inc()
        if result.verdict != "unknown":
            self._cache[endpoint] = (self._clock() + self.settings.cache_ttl, result)
            self._cache.move_to_end(endpoint)
            while len(self._cache) > self.settings.cache_size:
                self._cache.popitem(last=False)
        return result

    async def _probe(self, endpoint: str, ca_data: str) -> ProbeResult:
        s = self.settings
        try:
            host, port = _host_port(endpoint)
            context = ssl_context_for_ca(ca_data)
        except ValueError as exc:
            return ProbeResult(verdict="unknown", reason=str(exc))

        loop = asyncio.get_running_loop()
        try:
            with anyio.fail_after(s.dns_timeout):
                infos = await self._getaddrinfo(host, port)
        except TimeoutError:
            return ProbeResult(verdict="tunnel", reason=f"DNS lookup of {host} timed out")
        except socket.gaierror as exc:
            if exc.errno in _GAI_RETRY:
                return ProbeResult(
                    verdict="unknown", reason=f"temporary DNS failure for {host}: {exc.strerror}"
                )
            return ProbeResult(verdict="tunnel", reason=f"{host} does not resolve: {exc.strerror}")
        if not infos:
            return ProbeResult(verdict="tunnel", reason=f"{host} does not resolve: no addresses")

        sock: socket.socket | None = None
        try:
            try:
                with anyio.fail_after(s.connect_timeout):
                    sock = await _connect_first(loop, infos)
            except TimeoutError:
                return ProbeResult(verdict="tunnel", reason=f"TCP connect to {host}:{port} timed out")
            except OSError as exc:
                if exc.errno == errno.ETIMEDOUT:  # the kernel gave up on SYN retries: still a timeout
                    return ProbeResult(verdict="tunnel", reason=f"TCP connect to {host}:{port} timed out")
                return ProbeResult(
                    verdict="unknown", reason=f"TCP connect to {host}:{port} failed: {_os_reason(exc)}"
                )

            try:
                with anyio.fail_after(s.handshake_timeout):
                    # asyncio's own handshake timeout is set above ours so that ours, a TimeoutError, fires.
                    _, writer = await asyncio.open_connection(
                        sock=sock,
                        ssl=context,
                        server_hostname=host,
                        ssl_handshake_timeout=s.handshake_timeout + 5.0,
                    )
            except TimeoutError:
                return ProbeResult(verdict="tunnel", reason=f"TLS handshake with {host}:{port} timed out")
            except ssl.SSLCertVerificationError as exc:
                return ProbeResult(
                    verdict="unknown",
                    reason=f"TLS verification of {host}:{port} failed: {exc.verify_message}",
                )
            except (ssl.SSLError, OSError) as exc:
                return ProbeResult(
                    verdict="unknown", reason=f"TLS handshake with {host}:{port} failed: {_os_reason(exc)}"
                )
            sock = None  # owned by the transport now
            writer.close()
            # Closing sends close_notify; do not let a slow peer hold the slot.
            with anyio.move_on_after(1.0):
                with contextlib.suppress(ssl.SSLError, OSError):
                    await writer.wait_closed()
            return ProbeResult(verdict="direct", reason=f"TLS handshake with {host}:{port} verified")
        finally:
            if sock is not None:
                sock.close()


async def _connect_first(
    loop: asyncio.AbstractEventLoop,
    infos: Sequence[tuple[int, int, int, str, Any]],
) -> socket.socket:
    """Connect to the resolved addresses in order; return the first socket that connects.

    Like Go's dialer, a failure on every address reports the first address's error.
    """
    first_error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            first_error = first_error or exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    assert first_error is not None
    raise first_error


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno and not isinstance(exc, ssl.SSLError):
        return os.strerror(exc.errno).lower()  # "connection refused", as Go words it
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__ if not str(exc) else str(exc)
