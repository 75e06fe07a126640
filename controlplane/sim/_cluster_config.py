"""A cluster's configuration: the rules on its settings (logging, endpoint access, authentication
mode, support type, deletion protection) and the updates that change them: UpdateClusterVersion,
UpdateClusterConfig, and how a completed update is applied to the cluster record.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import _errors as err
from ._access import ensure_creator_entry
from ._backend import EksBackend
from ._model import LOG_TYPES, ClusterRec, UpdateRec
from ._rules import minor
from ._shapes import LoggingIn, UpdateClusterConfigIn, UpdateClusterVersionIn
from ._updates import Plan, in_progress, request_update
from ._wire import Json


def check_log_types(types: Iterable[str]) -> None:
    for t in types:
        if t not in LOG_TYPES:
            raise err.invalid_parameter(f"Unknown log type {t!r}; valid types are {', '.join(LOG_TYPES)}.")


def default_cidrs(ip_family: str) -> list[str]:
    """Who may reach a public endpoint when no one is named: everyone."""
    return ["0.0.0.0/0", "::/0"] if ip_family == "ipv6" else ["0.0.0.0/0"]


def check_logging(logging: LoggingIn) -> tuple[set[str], set[str]]:
    """The log types ``logging`` enables and those it disables; a type may not be in both."""
    on: set[str] = set()
    off: set[str] = set()
    for setup in logging.clusterLogging:
        check_log_types(setup.types)
        (on if setup.enabled else off).update(setup.types)
    if on & off:
        raise err.invalid_parameter("A log type cannot be both enabled and disabled.")
    return on, off


AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
SUPPORT_TYPES = ("STANDARD", "EXTENDED")


def check_authentication_mode(mode: str) -> None:
    if mode not in AUTHENTICATION_MODES:
        raise err.invalid_parameter(f"Invalid authenticationMode {mode!r}.")


def check_support_type(support: str) -> None:
    if support not in SUPPORT_TYPES:
        raise err.invalid_parameter(f"Invalid supportType {support!r}.")


def version_plan(target: str) -> Plan:
    """A VersionUpdate of the cluster to ``target`` (a supported version)."""
    plan = Plan()
    plan.set("version", "Version", target)
    plan.show("PlatformVersion", "eks.1")
    return plan


def endpoint_plan(c: ClusterRec, public: bool | None, private: bool | None, cidrs: list[str] | None) -> Plan:
    """An EndpointAccessUpdate; None keeps the current setting, and only the given ones are params."""
    pub = c.public_access if public is None else public
    priv = c.private_access if private is None else private
    sources = c.public_access_cidrs if cidrs is None else list(cidrs)
    if not sources:
        sources = default_cidrs(c.ip_family)
    if not pub and not priv:
        raise err.invalid_parameter(
            "Cluster endpoint must have public or private access enabled.", clusterName=c.name
        )
    plan = Plan()
    plan.changes.update(public=pub, private=priv, cidrs=sources)
    if public is not None:
        plan.show("EndpointPublicAccess", pub)
    if private is not None:
        plan.show("EndpointPrivateAccess", priv)
    if cidrs is not None:
        plan.show("PublicAccessCidrs", sources)
    return plan


def logging_plan(c: ClusterRec, on: set[str], off: set[str]) -> Plan:
    """A LoggingUpdate enabling the log types ``on`` and disabling ``off``."""
    enabled = (set(c.logging) | on) - off
    setups = [{"types": [t for t in LOG_TYPES if t in on], "enabled": True}]
    if off:
        setups.append({"types": [t for t in LOG_TYPES if t in off], "enabled": False})
    plan = Plan()
    plan.changes["logging"] = [t for t in LOG_TYPES if t in enabled]
    plan.show("ClusterLogging", setups)
    return plan


def update_cluster_version(b: EksBackend, region: str, name: str, req: UpdateClusterVersionIn) -> Json:
    c = b.cluster(region, name)

    def plan() -> Plan:
        target = b.version(req.version)
        cur, new = minor(c.version), minor(target)
        assert cur is not None and new is not None
        if new == cur:
            raise err.invalid_parameter(
                f"Cluster {name} is already at the desired version {target}.", clusterName=name
            )
        if new[0] != cur[0] or new[1] != cur[1] + 1:
            raise err.invalid_parameter(
                f"Unsupported Kubernetes minor version update from {c.version} to {target}",
                clusterName=name,
            )
        if not req.force:
            behind = sorted(n.name for n in c.nodegroups.values() if n.version != c.version)
            if behind:
                raise err.invalid_request(
                    f"Nodegroups {', '.join(behind)} must be updated to match cluster version "
                    f"{c.version} before updating cluster version",
                    clusterName=name,
                )
        return version_plan(target)

    return request_update(b, c, "VersionUpdate", req.clientRequestToken, plan)


_NOT_UPDATABLE = (
    "zonalShiftConfig",
    "computeConfig",
    "kubernetesNetworkConfig",
    "storageConfig",
    "remoteNetworkConfig",
)
_UPDATE_KINDS = ("resourcesVpcConfig", "logging", "accessConfig", "upgradePolicy", "deletionProtection")


def access_plan(c: ClusterRec, mode: str) -> Plan:
    """An AccessConfigUpdate: EKS moves CONFIG_MAP -> API_AND_CONFIG_MAP -> API only."""
    check_authentication_mode(mode)
    order = AUTHENTICATION_MODES
    if mode == c.authentication_mode:
        raise err.invalid_parameter(
            f"Cluster {c.name} is already at the desired authentication mode {mode}.", clusterName=c.name
        )
    if order.index(mode) < order.index(c.authentication_mode):
        raise err.invalid_parameter(
            f"Unsupported authentication mode update from {c.authentication_mode} to {mode}",
            clusterName=c.name,
        )
    plan = Plan()
    plan.set("authentication_mode", "AuthenticationMode", mode)
    return plan


def support_plan(c: ClusterRec, support: str) -> Plan:
    check_support_type(support)
    if support == c.support_type:
        raise err.invalid_parameter(
            f"Cluster {c.name} already has supportType {support}.", clusterName=c.name
        )
    plan = Plan()
    plan.set("support_type", "UpgradePolicy", support)
    return plan


def protection_plan(c: ClusterRec, protect: bool) -> Plan:
    if protect == c.deletion_protection:
        raise err.invalid_parameter(
            f"Cluster {c.name} already has deletionProtection {str(protect).lower()}.", clusterName=c.name
        )
    plan = Plan()
    plan.set("deletion_protection", "DeletionProtection", protect)
    return plan


def update_cluster_config(b: EksBackend, region: str, name: str, req: UpdateClusterConfigIn) -> Json:
    c = b.cluster(region, name)
    unsupported = [k for k in _NOT_UPDATABLE if getattr(req, k) is not None]
    if unsupported:
        raise err.invalid_parameter(
            f"The simulator does not support updating {', '.join(unsupported)}.", clusterName=name
        )
    if sum(getattr(req, k) is not None for k in _UPDATE_KINDS) != 1:
        raise err.invalid_parameter("Only one type of update can be allowed.", clusterName=name)
    token = req.clientRequestToken
    access, policy, protect = req.accessConfig, req.upgradePolicy, req.deletionProtection
    if access is not None:
        mode = access.authenticationMode or c.authentication_mode
        return request_update(b, c, "AccessConfigUpdate", token, lambda: access_plan(c, mode))
    if policy is not None:
        support = policy.supportType or c.support_type
        return request_update(b, c, "UpgradePolicyUpdate", token, lambda: support_plan(c, support))
    if protect is not None:
        return request_update(b, c, "DeletionProtectionUpdate", token, lambda: protection_plan(c, protect))
    logging, vpc = req.logging, req.resourcesVpcConfig
    if logging is not None:

        def logging_update() -> Plan:
            plan = logging_plan(c, *check_logging(logging))
            if set(plan.changes["logging"]) == set(c.logging):
                raise err.invalid_parameter(
                    "No changes needed for the logging config provided", clusterName=name
                )
            return plan

        return request_update(b, c, "LoggingUpdate", req.clientRequestToken, logging_update)
    assert vpc is not None
    if vpc.subnetIds is not None or vpc.securityGroupIds is not None:
        raise err.invalid_parameter(
            "The simulator does not support updating subnetIds or securityGroupIds.", clusterName=name
        )

    def endpoint_update() -> Plan:
        plan = endpoint_plan(c, vpc.endpointPublicAccess, vpc.endpointPrivateAccess, vpc.publicAccessCidrs)
        public, private, cidrs = plan.changes["public"], plan.changes["private"], plan.changes["cidrs"]
        if (public, private, sorted(cidrs)) == (
            c.public_access,
            c.private_access,
            sorted(c.public_access_cidrs),
        ):
            raise err.invalid_parameter(
                f"Cluster is already at the desired configuration with endpointPrivateAccess: "
                f"{str(private).lower()} , endpointPublicAccess: {str(public).lower()}, and Public "
                f"Endpoint Restrictions: [{', '.join(cidrs)}]",
                clusterName=name,
            )
        return plan

    return request_update(b, c, "EndpointAccessUpdate", req.clientRequestToken, endpoint_update)


def apply_cluster_update(b: EksBackend, c: ClusterRec, u: UpdateRec) -> None:
    ch = u.changes
    if "version" in ch:
        c.version = ch["version"]
        c.platform_version = "eks.1"
    if "public" in ch:
        c.public_access = ch["public"]
        c.private_access = ch["private"]
        c.public_access_cidrs = ch["cidrs"]
        access = "public" if c.public_access else b.settings.private_endpoint_access
        if access != c.endpoint_access:
            # Re-registering keeps the downstream objects and changes only reachability.
            c.endpoint_access = access
            c.endpoint = b.endpoints.add_cluster(c.name, access)
    if "logging" in ch:
        c.logging = list(ch["logging"])
    if "authentication_mode" in ch:
        c.authentication_mode = ch["authentication_mode"]
        ensure_creator_entry(b, c)
    if "support_type" in ch:
        c.support_type = ch["support_type"]
    if "deletion_protection" in ch:
        c.deletion_protection = ch["deletion_protection"]
    if c.status == "UPDATING" and in_progress(c) is None:
        c.status = "ACTIVE"
