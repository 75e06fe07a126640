"""EKS bearer tokens in the aws-iam-authenticator format: minting, with a cache.

A token is ``k8s-aws-v1.`` followed by the unpadded base64url encoding of a presigned STS
``GetCallerIdentity`` GET URL whose signature covers the header ``x-k8s-aws-id: <cluster name>``.
Minting is local CPU work (no AWS call). EKS accepts a token for 15 minutes after its
``X-Amz-Date``; clients reuse one for 14 minutes.

Tokens are bearer credentials: they never appear in logs, exception messages or reprs here.
Verification is the server's business: the simulator's API servers check tokens with their own code
(``controlplane.sim``), so a mistake in this module cannot be hidden by the same mistake on both sides.
"""

from __future__ import annotations

import base64
import collections
import functools
import inspect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import botocore.loaders
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.endpoint_provider import EndpointProvider

from controlplane.metrics import TOKEN_CACHE_HITS, TOKEN_MINTS

__all__ = [
    "CLUSTER_ID_HEADER",
    "TOKEN_PREFIX",
    "TokenMinter",
    "mint_token",
    "sts_host",
]

TOKEN_PREFIX: Final = "k8s-aws-v1."
CLUSTER_ID_HEADER: Final = "x-k8s-aws-id"
TOKEN_LIFETIME: Final = timedelta(minutes=15)
"""EKS honours a token for this long after ``X-Amz-Date`` whatever ``X-Amz-Expires`` says."""
PRESIGN_EXPIRES: Final = 60
"""Sent for compatibility with aws-iam-authenticator; the server ignores it (accepts 0..900)."""
DEFAULT_CACHE_TTL: Final = 14 * 60.0
CREDENTIAL_EXPIRY_MARGIN: Final = 60.0
"""A cached token is dropped this long before the temporary credentials it was signed with expire:
STS refuses a presigned request whose session has expired, whatever the token's own 15 minutes."""
DEFAULT_CACHE_SIZE: Final = 4096
_REGION_RE: Final = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")
"""A region name (``us-east-1``, ``us-isob-east-1``, ``eusc-de-east-1``), not ``aws-global``."""

# --- credentials ----------------------------------------------------------------------------------


class FrozenCredentials(Protocol):
    """What signing needs: botocore ``ReadOnlyCredentials`` has exactly this shape. Temporary
    credentials may also carry ``expiry`` (epoch seconds), which caps how long a token is cached."""

    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def token(self) -> str | None: ...


class RefreshingCredentials(Protocol):
    """botocore ``Credentials`` (sync) or aiobotocore ``AioCredentials`` (async) freezing."""

    def get_frozen_credentials(self) -> Any: ...


CredentialsLike = FrozenCredentials | RefreshingCredentials


async def _freeze(credentials: CredentialsLike) -> tuple[FrozenCredentials, float | None]:
    """One consistent (access key, secret, session token) snapshot of possibly refreshing credentials,
    and when they expire (epoch seconds; None for long-term keys)."""
    getter = getattr(credentials, "get_frozen_credentials", None)
    if getter is None:
        frozen: Any = credentials
    else:
        frozen = getter()
        if inspect.isawaitable(frozen):
            frozen = await frozen
    expiry = getattr(frozen, "expiry", None)
    if expiry is None:
        # botocore's refreshable credentials (assumed roles, IRSA, instance profiles), read right after
        # the freeze with no await in between: the expiry of exactly the snapshot taken.
        when = getattr(credentials, "_expiry_time", None)
        expiry = when.timestamp() if isinstance(when, datetime) else None
    return frozen, float(expiry) if expiry is not None else None


# --- minting --------------------------------------------------------------------------------------


@functools.cache
def _sts_endpoints() -> EndpointProvider:
    loader = botocore.loaders.create_loader()
    return EndpointProvider(
        ruleset_data=loader.load_service_model("sts", "endpoint-rule-set-1"),
        partition_data=loader.load_data("partitions"),
    )


@functools.lru_cache(maxsize=256)
def sts_host(region: str) -> str:
    """The regional STS host for ``region``, from botocore's endpoint rules for STS, so every
    partition botocore knows gets its own domain (``sts.us-iso-east-1.c2s.ic.gov``).
    The plain regional endpoint: no FIPS or dual-stack variant, whatever the environment asks of
    clients (EKS's verifier accepts the regional host of every region of its partition)."""
    if not _REGION_RE.match(region):
        raise ValueError(f"invalid AWS region identifier: {region!r}")
    endpoint = _sts_endpoints().resolve_endpoint(
        Region=region, UseFIPS=False, UseDualStack=False, UseGlobalEndpoint=False
    )
    host: str | None = urlsplit(str(endpoint.url)).hostname
    if not host:
        raise ValueError(f"no STS endpoint for region {region!r}")
    return host


def mint_token(*, cluster_name: str, region: str, credentials: FrozenCredentials) -> str:
    """Presign STS GetCallerIdentity for ``cluster_name`` and wrap it as an EKS bearer token.

    Pure CPU (about 75 µs): botocore's SigV4 query signer, no client and no network.
    """
    request = AWSRequest(
        method="GET",
        url=f"https://{sts_host(region)}/",
        params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
        # Added before signing so the signature binds the token to this cluster.
        headers={CLUSTER_ID_HEADER: cluster_name},
    )
    SigV4QueryAuth(credentials, "sts", region, expires=PRESIGN_EXPIRES).add_auth(request)
    url: str = request.url
    encoded = base64.urlsafe_b64encode(url.encode()).rstrip(b"=").decode()
    return TOKEN_PREFIX + encoded


@dataclass(slots=True)
class _Cached:
    token: str = field(repr=False)
    valid_until: float


class TokenMinter:
    """Mints EKS bearer tokens and caches one per (access key id, region, cluster), for ``ttl``
    seconds, or until ``CREDENTIAL_EXPIRY_MARGIN`` before temporary credentials expire if sooner.

    A plain object without resources: no open/close. ``clock`` is wall-clock seconds
    (``time.time`` by default) because EKS judges token age by wall clock (``X-Amz-Date``).

    Concurrency: minting is synchronous CPU work done between the cache lookup and the cache
    insert with no ``await`` in between, so concurrent askers of one key cannot both miss; the
    first one mints and every other one is a cache hit. The only suspension point is freezing
    refreshable credentials, which happens before the lookup (the key needs the access key id)
    and is itself single-flight inside botocore/aiobotocore's refresh lock.
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_CACHE_TTL,
        max_entries: int = DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < ttl < TOKEN_LIFETIME.total_seconds():
            raise ValueError("ttl must be positive and shorter than the 15-minute token lifetime")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._cache: collections.OrderedDict[tuple[str, str, str], _Cached] = collections.OrderedDict()

    def __repr__(self) -> str:
        return f"TokenMinter(entries={len(self._cache)}, ttl={self._ttl}, max_entries={self._max_entries})"

    def __len__(self) -> int:
        return len(self._cache)

    async def token(self, *, cluster_name: str, region: str, credentials: CredentialsLike) -> str:
        """A bearer token for ``cluster_name`` in ``region``, from the cache when fresh enough."""
        frozen, expiry = await _freeze(credentials)
        key = (frozen.access_key, region, cluster_name)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now < cached.valid_until:
            self._cache.move_to_end(key)
            TOKEN_CACHE_HITS.inc()
            return cached.token
        token = mint_token(cluster_name=cluster_name, region=region, credentials=frozen)
        TOKEN_MINTS.inc()
        valid_until = now + self._ttl
        if expiry is not None:
            valid_until = min(valid_until, expiry - CREDENTIAL_EXPIRY_MARGIN)
        if valid_until <= now:
            # Credentials about to expire (their refresh failed): use the token, never cache it.
            self._cache.pop(key, None)
            return token
        self._cache[key] = _Cached(token, valid_until)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return token

    def invalidate(self, *, access_key: str, region: str, cluster_name: str) -> None:
        """Forget one cached token (e.g. after the API server answered 401 to it)."""
        self._cache.pop((access_key, region, cluster_name), None)

    def clear(self) -> None:
        self._cache.clear()
