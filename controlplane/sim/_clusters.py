"""Clusters: CreateCluster, DescribeCluster, ListClusters, DeleteCluster and DescribeClusterVersions;
UpdateClusterVersion and UpdateClusterConfig are in ``_cluster_config``."""

from __future__ import annotations

import uuid

from . import _errors as err
from ._access import ensure_creator_entry
from ._backend import EksBackend, Resource
from ._cluster_config import (
    apply_cluster_update,
    check_authentication_mode,
    check_logging,
    check_support_type,
    default_cidrs,
    update_cluster_config,
    update_cluster_version,
)
from ._model import LOG_TYPES, ClusterRec, render_cluster
from ._rules import check_name, check_role, check_tags, random_hex
from ._shapes import CreateClusterIn, UpdateClusterConfigIn, UpdateClusterVersionIn
from ._updates import refuse_if_updating
from ._wire import Json, decode, page_answer, paginate


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
        on, _ = check_logging(req.logging)
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
    apply_update=apply_cluster_update,
    tagged=True,
)
