"""Clusters: CreateCluster, DescribeCluster, ListClusters, DeleteCluster, UpdateClusterVersion and
UpdateClusterConfig."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from . import _errors as err
from ._access import ensure_creator_entry
from ._backend import EksBackend, Resource
from ._model import LOG_TYPES, ClusterRec, UpdateRec, render_cluster
from ._rules import check_name, check_role, check_tags, minor, random_hex
from ._shapes import CreateClusterIn, LoggingIn, UpdateClusterConfigIn, UpdateClusterVersionIn
from ._updates import Plan, in_progress, refuse_if_updating, request_update
from ._wire import Json, decode, page_answer, paginate


def check_log_types(types: Iterable[str]) -> None:
    for t in types:
        if t not in LOG_TYPES:
            raise err.invalid_parameter(f"Unknown log type {t!r}; valid types are {', '.join(LOG_TYPES)}.")


def default_cidrs(ip_family: str) -> list[str]:
    """Who may reach a public endpoint when no one is named: everyone."""
    return ["0.0.0.0/0", "::/0"] if ip_family == "ipv6" else ["0.0.0.0/0"]


def _check_logging(logging: LoggingIn) -> tuple[set[str], set[str]]:
    on: set[str] = set()
    off: set[str] = set()
    for setup in logging.clusterLogging:
        check_log_types(setup.types)
        (on if setup.enabled else off).update(setup.types)
    if on & off:
        raise err.invalid_parameter("A log type cannot be both enabled and disabled.")
    return on, off


def new_cluster(
    b: EksBackend,
    region: str,
    name: str,
    *,
    version: str,
    role_arn: str,
    subnet_ids: list[str],
    security_group_ids: list[str],
    public: bool,
    private: bool,
    cidrs: list[str],
    ip_family: str,
    logging: list[str],
    tags: dict[str, str],
    encryption: list[Json] | None,
    endpoint_access: str | None,
    status: str,
    token: str | None = None,
    authentication_mode: str = "CONFIG_MAP",
    bootstrap_admin: bool = True,
    creator_arn: str | None = None,
    support_type: str = "EXTENDED",
    deletion_protection: bool = False,
) -> ClusterRec:
    vpc = None
    for s in subnet_ids:
        vpc = b.lookup.subnet_vpc(region, s)
        if vpc:
            break
    c = ClusterRec(
        name=name,
        region=region,
        arn=b.arn(region, f"cluster/{name}"),
        id=str(uuid.uuid4()),
        status=status,
        version=version,
        platform_version="eks.1",
        role_arn=role_arn,
        created_at=b.wall(),
        endpoint_access=endpoint_access or ("public" if public else b.settings.private_endpoint_access),
        subnet_ids=subnet_ids,
        security_group_ids=security_group_ids,
        cluster_security_group_id="sg-" + random_hex(17),
        vpc_id=vpc or "vpc-" + random_hex(17),
        public_access=public,
        private_access=private,
        public_access_cidrs=cidrs,
        ip_family=ip_family,
        service_cidr="fd00:" + random_hex(4) + ":" + random_hex(4) + "::/108"
        if ip_family == "ipv6"
        else "10.100.0.0/16",
        oidc_id=random_hex(32).upper(),
        logging=logging,
        encryption=encryption,
        tags=tags,
        token=token,
        authentication_mode=authentication_mode,
        bootstrap_admin=bootstrap_admin,
        creator_arn=creator_arn,
        support_type=support_type,
        deletion_protection=deletion_protection,
    )
    b.add_cluster(c)
    ensure_creator_entry(b, c)
    if status == "CREATING":
        b.schedule("cluster", c, c, b.settings.cluster_create_seconds)
    return c


def existing(b: EksBackend, region: str, name: str, token: str | None) -> ClusterRec | None:
    """The cluster a retried CreateCluster (same ``token``) made, or None when the name is free."""
    c = b.find(region, name)
    if c is None:
        return None
    if token is not None and c.token == token:
        return c
    raise err.in_use(f"Cluster already exists with name: {name}", clusterName=name)


def create_cluster(b: EksBackend, region: str, req: CreateClusterIn) -> Json:
    check_name("Cluster", req.name, 100)
    retried = existing(b, region, req.name, req.clientRequestToken)
    if retried is not None:
        return {"cluster": render_cluster(retried)}
    version = b.version(req.version)
    check_role("roleArn", req.roleArn)
    vpc = req.resourcesVpcConfig
    subnets = list(vpc.subnetIds or [])
    if len(subnets) < 2:
        raise err.invalid_parameter(
            "Subnets specified must be in at least two different AZs", clusterName=req.name
        )
    public = True if vpc.endpointPublicAccess is None else vpc.endpointPublicAccess
    private = bool(vpc.endpointPrivateAccess)
    if not public and not private:
        raise err.invalid_parameter(
            "Cluster endpoint must have public or private access enabled.", clusterName=req.name
        )
    ip_family = "ipv4"
    if req.kubernetesNetworkConfig and req.kubernetesNetworkConfig.ipFamily:
        ip_family = req.kubernetesNetworkConfig.ipFamily
        if ip_family not in ("ipv4", "ipv6"):
            raise err.invalid_parameter(f"Invalid ipFamily {ip_family!r}.")
    cidrs = list(vpc.publicAccessCidrs) if vpc.publicAccessCidrs else default_cidrs(ip_family)
    on: set[str] = set()
    if req.logging is not None:
        on, _ = _check_logging(req.logging)
    tags = dict(req.tags or {})
    check_tags(tags)
    encryption: list[Json] | None = None
    if req.encryptionConfig:
        encryption = []
        for e in req.encryptionConfig:
            if e.provider is None or not e.provider.keyArn or e.resources != ["secrets"]:
                raise err.invalid_parameter(
                    "encryptionConfig needs provider.keyArn and resources ['secrets']."
                )
            encryption.append({"resources": ["secrets"], "provider": {"keyArn": e.provider.keyArn}})
    auth_mode = "CONFIG_MAP"
    bootstrap = True
    if req.accessConfig is not None:
        auth_mode = req.accessConfig.authenticationMode or auth_mode
        if req.accessConfig.bootstrapClusterCreatorAdminPermissions is not None:
            bootstrap = req.accessConfig.bootstrapClusterCreatorAdminPermissions
    check_authentication_mode(auth_mode)
    if not bootstrap and auth_mode == "CONFIG_MAP":
        raise err.invalid_parameter(
            "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to "
            "CONFIG_MAP",
            clusterName=req.name,
        )
    support = "EXTENDED"
    if req.upgradePolicy is not None and req.upgradePolicy.supportType is not None:
        support = req.upgradePolicy.supportType
        check_support_type(support)
    c = new_cluster(
        b,
        region,
        req.name,
        version=version,
        role_arn=req.roleArn,
        subnet_ids=subnets,
        security_group_ids=list(vpc.securityGroupIds or []),
        public=public,
        private=private,
        cidrs=cidrs,
        ip_family=ip_family,
        logging=[t for t in LOG_TYPES if t in on],
        tags=tags,
        encryption=encryption,
        endpoint_access=None,
        status="CREATING",
        token=req.clientRequestToken,
        authentication_mode=auth_mode,
        bootstrap_admin=bootstrap,
        creator_arn=b.caller_principal(region),
        support_type=support,
        deletion_protection=bool(req.deletionProtection),
    )
    return {"cluster": render_cluster(c)}


AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
SUPPORT_TYPES = ("STANDARD", "EXTENDED")


def check_authentication_mode(mode: str) -> None:
    if mode not in AUTHENTICATION_MODES:
        raise err.invalid_parameter(f"Invalid authenticationMode {mode!r}.")


def check_support_type(support: str) -> None:
    if support not in SUPPORT_TYPES:
        raise err.invalid_parameter(f"Invalid supportType {support!r}.")


def describe_cluster(b: EksBackend, region: str, name: str) -> bytes:
    return b.cluster_body(b.cluster(region, name))


def list_clusters(b: EksBackend, region: str, max_results: int | None, token: str | None) -> Json:
    return page_answer("clusters", b.names(region), max_results, token)


def delete_cluster(b: EksBackend, region: str, name: str) -> Json:
    c = b.cluster(region, name)
    if c.status == "DELETING":
        return {"cluster": render_cluster(c)}
    if c.deletion_protection:
        raise err.invalid_request(
            f"Cluster {name} has deletion protection enabled; turn it off (UpdateClusterConfig "
            "deletionProtection=false) before deleting the cluster.",
            clusterName=name,
        )
    refuse_if_updating(c)
    if c.nodegroups:
        raise err.in_use(
            f"Cluster has nodegroups attached: {', '.join(sorted(c.nodegroups))}", clusterName=name
        )
    if c.fargate:
        raise err.in_use(
            f"Cluster has fargate profiles attached: {', '.join(sorted(c.fargate))}", clusterName=name
        )
    start_delete(b, c, b.settings.cluster_delete_seconds)
    return {"cluster": render_cluster(c)}


def start_delete(b: EksBackend, c: ClusterRec, seconds: float) -> None:
    """The cluster (and its add-ons) is DELETING, and gone after ``seconds``."""
    c.status = "DELETING"
    for a in c.addons.values():
        a.status = "DELETING"
    b.schedule("cluster", c, c, seconds)
    b.touch(c)


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
            plan = logging_plan(c, *_check_logging(logging))
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


def describe_cluster_versions(
    b: EksBackend, versions: list[str], max_results: int | None, token: str | None
) -> Json:
    """The supported Kubernetes versions (or those asked for) and their support status."""
    s = b.settings
    known = [v for v in reversed(s.kubernetes_versions) if not versions or v in versions]
    page, nxt = paginate(known, max_results, token, ordered=False)
    day = 86400.0
    out: Json = {"clusterVersions": []}
    for i, v in enumerate(page):
        extended = v in s.extended_support_versions
        released = 1_600_000_000.0 + float(s.kubernetes_versions.index(v)) * 120 * day
        out["clusterVersions"].append(
            {
                "clusterVersion": v,
                "clusterType": "eks",
                "defaultPlatformVersion": "eks.1",
                "defaultVersion": v == s.default_kubernetes_version,
                "releaseDate": released,
                "endOfStandardSupportDate": released + 14 * 30 * day,
                "endOfExtendedSupportDate": released + 26 * 30 * day,
                "status": "extended-support" if extended else "standard-support",
                "versionStatus": "EXTENDED_SUPPORT" if extended else "STANDARD_SUPPORT",
                "kubernetesPatchVersion": f"{v}.{i + 1}",
            }
        )
    if nxt:
        out["nextToken"] = nxt
    return out


def _cluster_due(b: EksBackend, c: ClusterRec, rec: ClusterRec) -> None:
    if c.status == "CREATING":
        c.status = "ACTIVE"
        b.touch(c)
    elif c.status == "DELETING":
        b.drop_cluster(c)


def _apply_cluster_update(b: EksBackend, c: ClusterRec, u: UpdateRec) -> None:
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


RESOURCE = Resource(
    routes={
        ("POST", ("clusters",)): (
            "CreateCluster",
            lambda b, r, s, q, body: create_cluster(b, r, decode(body, CreateClusterIn)),
        ),
        ("GET", ("clusters",)): (
            "ListClusters",
            lambda b, r, s, q, body: list_clusters(b, r, q.int("maxResults"), q.get("nextToken")),
        ),
        ("GET", ("clusters", "*")): (
            "DescribeCluster",
            lambda b, r, s, q, body: describe_cluster(b, r, s[1]),
        ),
        ("DELETE", ("clusters", "*")): ("DeleteCluster", lambda b, r, s, q, body: delete_cluster(b, r, s[1])),
        ("POST", ("clusters", "*", "updates")): (
            "UpdateClusterVersion",
            lambda b, r, s, q, body: update_cluster_version(b, r, s[1], decode(body, UpdateClusterVersionIn)),
        ),
        ("GET", ("cluster-versions",)): (
            "DescribeClusterVersions",
            lambda b, r, s, q, body: describe_cluster_versions(
                b, q.all("clusterVersions"), q.int("maxResults"), q.get("nextToken")
            ),
        ),
        ("POST", ("clusters", "*", "update-config")): (
            "UpdateClusterConfig",
            lambda b, r, s, q, body: update_cluster_config(b, r, s[1], decode(body, UpdateClusterConfigIn)),
        ),
    },
    kind="cluster",
    records=lambda c: (c,),
    on_due=_cluster_due,
    apply_update=_apply_cluster_update,
    tagged=True,
)
