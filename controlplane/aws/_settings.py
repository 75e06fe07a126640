"""Settings of the AWS adapter: retries, timeouts, pools, caches, client-side limits, endpoints."""

from __future__ import annotations

from typing import Literal

import msgspec

SERVICES = ("eks", "ec2", "cloudformation", "iam", "sts")
"""The AWS services the control plane calls (botocore service names)."""


class ServiceLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Client-side limits shared by every call to one service in one (account, region)."""

    rate: float | None = None
    """Sustained calls per second allowed by the token bucket; ``None`` disables the bucket."""

    burst: int = 1
    """Bucket capacity: calls that may start at once after an idle period (ignored when ``rate`` is None)."""

    max_in_flight: int = 10
    """Calls in flight at once. Never above ``AwsSettings.pool_size``: more callers than pooled
    connections makes aiohttp serve waiters unfairly (p99 of seconds while p50 is milliseconds)."""

    def __post_init__(self) -> None:
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"rate must be > 0 or None, got {self.rate}")
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {self.max_in_flight}")


def _default_limits() -> dict[str, ServiceLimits]:
    # AWS publishes no EKS limits; these defaults stay well under what a real account tolerates
    # (EC2's documented describe bucket is ~20/s refill, CloudFormation and IAM are slower) while
    # leaving room for ~1,000 clusters refreshed every 300 s (~33 calls/s in all).
    return {
        "eks": ServiceLimits(rate=50.0, burst=100, max_in_flight=32),
        "ec2": ServiceLimits(rate=20.0, burst=50, max_in_flight=16),
        "cloudformation": ServiceLimits(rate=5.0, burst=20, max_in_flight=8),
        "iam": ServiceLimits(rate=10.0, burst=20, max_in_flight=8),
        "sts": ServiceLimits(rate=20.0, burst=50, max_in_flight=16),
    }


class AwsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the AWS adapter can be tuned with. Immutable; validated on construction.

    Endpoint precedence for a service: ``endpoint_urls[service]``, then ``endpoint_url``, then
    botocore's own ``AWS_ENDPOINT_URL_<SERVICE>`` and ``AWS_ENDPOINT_URL`` environment variables
    (e.g. ``AWS_ENDPOINT_URL_EKS``, ``AWS_ENDPOINT_URL_CLOUDFORMATION``), then AWS's endpoint.
    """

    retry_mode: Literal["standard", "adaptive"] = "standard"
    """botocore retry mode, set explicitly because botocore still defaults to ``legacy``.
    ``adaptive`` adds botocore's client-side CUBIC limiter (per client, on top of ours)."""

    max_attempts: int = 3
    """Total attempts per call including the first (botocore ``total_max_attempts``)."""

    connect_timeout: float = 10.0
    """Seconds to establish a connection."""

    read_timeout: float = 60.0
    """Seconds to wait for response data once connected."""

    pool_size: int = 32
    """Connections per client (botocore ``max_pool_connections``); bounds every ``max_in_flight``."""

    client_cache_size: int = 256
    """Clients kept open, one per (credential identity, region, service); least recently used closed first."""

    identity_cache_size: int = 1024
    """Credential identities remembered (resolved account id, assumed-role credentials)."""

    limiter_cache_size: int = 4096
    """Rate limiters remembered, one per (account, region, service)."""

    limits: dict[str, ServiceLimits] = msgspec.field(default_factory=_default_limits)
    """Per-service limits, keyed by botocore service name; services not listed use ``default_limits``."""

    default_limits: ServiceLimits = ServiceLimits(rate=None, burst=1, max_in_flight=8)
    """Limits of services absent from ``limits``."""

    endpoint_url: str | None = None
    """One endpoint for every service (``controlplane serve --aws-endpoint URL``, e.g. the simulator)."""

    endpoint_urls: dict[str, str] = msgspec.field(default_factory=dict)
    """Per-service endpoint overrides keyed by botocore service name; they beat ``endpoint_url``."""

    role_session_name: str = "eks-controlplane"
    """``RoleSessionName`` sent with AssumeRole."""

    assume_role_duration: int = 3600
    """Lifetime in seconds asked for assumed-role credentials (refreshed 15 minutes before expiry)."""

    shutdown_grace: float = 10.0
    """Seconds ``AwsAdapter`` waits on exit for calls in flight before closing their clients anyway."""

    fast_reads: bool = True
    """Send the hot read-only EKS calls (DescribeCluster, ListNodegroups, DescribeNodegroup,
    DescribeAddon) with the adapter's own signed aiohttp GETs instead of botocore (~5x less CPU per
    call; same results, errors, retries and metrics, but timestamps stay epoch numbers). False, or
    ``retry_mode="adaptive"``, sends everything through botocore."""

    def __post_init__(self) -> None:
        if self.retry_mode not in ("standard", "adaptive"):
            raise ValueError(f"retry_mode must be 'standard' or 'adaptive', got {self.retry_mode!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not (self.connect_timeout > 0 and self.read_timeout > 0):
            raise ValueError("connect_timeout and read_timeout must be > 0")
        for name in ("pool_size", "client_cache_size", "identity_cache_size", "limiter_cache_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 900 <= self.assume_role_duration <= 43200:
            raise ValueError("assume_role_duration must be within 900..43200 seconds")
        for service, limits in (*self.limits.items(), ("<default>", self.default_limits)):
            if limits.max_in_flight > self.pool_size:
                raise ValueError(
                    f"max_in_flight of {service} ({limits.max_in_flight}) exceeds pool_size "
                    f"({self.pool_size}); raise pool_size or lower the cap"
                )
        for url in (self.endpoint_url, *self.endpoint_urls.values()):
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"endpoint URL must start with http:// or https://, got {url!r}")

    def limits_for(self, service: str) -> ServiceLimits:
        """The limits that apply to ``service``."""
        return self.limits.get(service, self.default_limits)

    def endpoint_for(self, service: str) -> str | None:
        """The explicit endpoint of ``service``, or None to let botocore decide (env vars, then AWS)."""
        return self.endpoint_urls.get(service, self.endpoint_url)
