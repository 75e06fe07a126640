"""Frozen settings of the simulator: lifecycle durations, identity, endpoints and faults."""

from __future__ import annotations

from typing import Literal

import msgspec

LatencyKind = Literal["none", "fixed", "uniform", "lognormal"]
Revocation = Literal["AccessDenied", "ExpiredToken"]
EndpointAccess = Literal["public", "unresolvable", "blackhole"]

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account, so EKS and moto ARNs agree.


class FaultSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Faults injected into AWS API requests (never into the ``/_sim/`` control API)."""

    latency: LatencyKind = "none"
    """Shape of the added latency: none, fixed (``latency_seconds``), uniform between
    ``latency_seconds`` and ``latency_max_seconds``, or lognormal with median ``latency_seconds`` and
    shape ``latency_sigma``. Not multiplied by ``time_scale``."""
    latency_seconds: float = 0.0
    """Fixed latency, lower bound of the uniform one, or median of the lognormal one, in seconds."""
    latency_max_seconds: float = 0.0
    """Upper bound of the uniform latency, and a cap on the lognormal one when positive, in seconds."""
    latency_sigma: float = 0.5
    """Shape (sigma of the underlying normal) of the lognormal latency."""
    throttle_probability: float = 0.0
    """Probability in [0, 1] that a request is answered with a throttling error."""
    throttle_rate: float | None = None
    """Token-bucket rate limit in requests per second per service; None disables the bucket."""
    throttle_burst: float = 10.0
    """Token-bucket capacity (the burst a service accepts before throttling starts)."""
    throttle_code: Literal["TooManyRequestsException", "ThrottlingException"] = "TooManyRequestsException"
    """Error code of an EKS throttle (both HTTP 429). Other services use their own codes."""
    error_probability: float = 0.0
    """Probability in [0, 1] that a request is answered with an HTTP 5xx server error."""
    error_status: Literal[500, 502, 503, 504] = 500
    """HTTP status of injected server errors (EKS: 500 is ``ServerException``, others
    ``ServiceUnavailableException``)."""
    reset_probability: float = 0.0
    """Probability in [0, 1] that the connection is aborted (TCP reset) instead of answered."""
    services: tuple[str, ...] | None = None
    """Signing names of the services faults apply to (e.g. ``("eks",)``); None means every AWS service."""
    seed: int | None = None
    """Seed of the fault random generator, for reproducible runs; None seeds from the OS."""
    revoked_access_keys: dict[str, Revocation] = {}
    """Access keys whose every AWS request is refused, whatever ``services`` says: ``AccessDenied`` (the
    identity lost its permissions) or ``ExpiredToken`` (its session token expired), in each service's own
    code and envelope. Other keys are unaffected."""

    @property
    def active(self) -> bool:
        """Whether any fault can fire; the request path skips all fault work otherwise."""
        return (
            self.latency != "none"
            or self.throttle_probability > 0
            or self.throttle_rate is not None
            or self.error_probability > 0
            or self.reset_probability > 0
            or bool(self.revoked_access_keys)
        )


class SimSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the simulator can be told at start. Durations are in seconds at ``time_scale=1``."""

    host: str = "127.0.0.1"
    """Address the simulator listens on (AWS API and control API share the listener)."""
    port: int = 0
    """TCP port; 0 picks a free one (read it back from ``Simulator.url``)."""
    time_scale: float = 1.0
    """Multiplier applied to every lifecycle duration below: 0.01 for tests, 60 for roughly real EKS."""
    cluster_create_seconds: float = 10.0
    """Time a cluster stays CREATING."""
    cluster_update_seconds: float = 5.0
    """Time a cluster update (version, endpoint access, logging) stays InProgress (cluster UPDATING)."""
    cluster_delete_seconds: float = 5.0
    """Time a cluster stays DELETING before it is gone."""
    nodegroup_create_seconds: float = 5.0
    """Time a node group stays CREATING."""
    nodegroup_update_seconds: float = 5.0
    """Time a node group update (config or version) stays InProgress (node group UPDATING)."""
    nodegroup_delete_seconds: float = 5.0
    """Time a node group stays DELETING before it is gone."""
    addon_create_seconds: float = 3.0
    """Time an add-on stays CREATING."""
    addon_delete_seconds: float = 3.0
    """Time an add-on stays DELETING before it is gone."""
    addon_update_seconds: float = 3.0
    """Time an add-on update (UpdateAddon) stays InProgress (add-on UPDATING)."""
    fargate_create_seconds: float = 3.0
    """Time a Fargate profile stays CREATING."""
    fargate_delete_seconds: float = 3.0
    """Time a Fargate profile stays DELETING before it is gone."""
    stack_delete_seconds: float = 2.0
    """Time a CloudFormation stack stays DELETE_IN_PROGRESS before it is gone (0: at once, as moto).
    Stack creation is immediate."""
    account_id: str = DEFAULT_ACCOUNT_ID
    """AWS account in every ARN (moto's default account, which STS GetCallerIdentity reports)."""
    default_region: str = "us-west-2"
    """Region of control-API clusters that name none, and of unsigned EKS requests."""
    kubernetes_versions: tuple[str, ...] = ("1.28", "1.29", "1.30", "1.31", "1.32", "1.33")
    """Kubernetes versions EKS accepts, oldest first."""
    default_kubernetes_version: str = "1.32"
    """Version of a cluster created without one."""
    extended_support_versions: tuple[str, ...] = ("1.28", "1.29")
    """Kubernetes versions past standard support (DescribeClusterVersions says EXTENDED_SUPPORT)."""
    private_endpoint_access: EndpointAccess = "unresolvable"
    """How the Kubernetes endpoint of a private-only cluster behaves: a name that does not resolve, or
    an address that accepts TCP but never completes TLS."""
    kube_endpoints: bool = True
    """Serve a downstream Kubernetes API per cluster (KubeFleet). When False, endpoints are unresolvable
    EKS-style host names and no CA is published; useful for pure AWS load tests."""
    state_file: str | None = None
    """File that keeps the EKS state across restarts (msgspec JSON); None keeps it in memory only."""
    state_save_interval: float = 5.0
    """Seconds between periodic saves of ``state_file`` (only when something changed). Not scaled."""
    faults: FaultSettings = FaultSettings()
    """Faults active from the start; change them at run time with ``PUT /_sim/faults``."""

    def scaled(self, seconds: float) -> float:
        """A duration multiplied by ``time_scale``."""
        return seconds * self.time_scale
