"""The simulated EKS service: the operations of every resource, as functions over the backend.

The resources plug into the backend's core (``_backend``) through ``RESOURCES``.
"""

from __future__ import annotations

import uuid

import msgspec

from . import _addons, _tags, _updates
from . import _errors as err
from ._backend import EksBackend, Resource, settle
from ._model import (
    LOG_TYPES,
    ClusterRec,
    NodegroupRec,
    Taint,
    UpdateRec,
    render_cluster,
    render_nodegroup,
    render_update,
)
from ._rules import check_name, check_role, check_tags, minor, random_hex, release_version
from ._shapes import (
    CreateClusterIn,
    CreateNodegroupIn,
    LaunchTemplateIn,
    LoggingIn,
    TaintIn,
    UpdateClusterConfigIn,
    UpdateClusterVersionIn,
    UpdateNodegroupConfigIn,
    UpdateNodegroupVersionIn,
)
from ._updates import find_token_update, in_progress, new_update, refuse_if_updating, require_active
from ._wire import Json, page_answer

_TAINT_EFFECTS = ("NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE")
_CAPACITY_TYPES = ("ON_DEMAND", "SPOT", "CAPACITY_BLOCK")


def _check_logging(logging: LoggingIn) -> tuple[set[str], set[str]]:
    on: set[str] = set()
    off: set[str] = set()
    for setup in logging.clusterLogging:
        for t in setup.types:
            if t not in LOG_TYPES:
                raise err.invalid_parameter(
                    f"Unknown log type {t!r}; valid types are {', '.join(LOG_TYPES)}."
                )
        (on if setup.enabled else off).update(setup.types)
    if on & off:
        raise err.invalid_parameter("A log type cannot be both enabled and disabled.")
    return on, off


def _taint(t: TaintIn) -> Taint:
    if t.effect not in _TAINT_EFFECTS:
        raise err.invalid_parameter(f"Invalid taint effect {t.effect!r}.")
    return Taint(key=t.key, effect=t.effect, value=t.value)


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
    if c.status == "UPDATING" and in_progress(c) is None:
        c.status = "ACTIVE"


def _apply_nodegroup_update(b: EksBackend, c: ClusterRec, u: UpdateRec) -> None:
    n = c.nodegroups.get(u.nodegroup or "")
    if n is None:
        return
    _apply_nodegroup_changes(n, u.changes)
    n.modified_at = b.wall()
    if n.status == "UPDATING" and in_progress(c, n.name) is None:
        n.status = "ACTIVE"


def _apply_nodegroup_changes(n: NodegroupRec, ch: Json) -> None:
    if "min" in ch:
        n.min_size = ch["min"]
    if "max" in ch:
        n.max_size = ch["max"]
    if "desired" in ch:
        n.desired_size = ch["desired"]
    if ch.get("labels_add") or ch.get("labels_remove"):
        labels = dict(n.labels)
        for k in ch.get("labels_remove", []):
            labels.pop(k, None)
        labels.update(ch.get("labels_add", {}))
        n.labels = labels
    if ch.get("taints_add") or ch.get("taints_remove"):
        removed = {(t["key"], t["effect"]) for t in ch.get("taints_remove", [])}
        added = [Taint(**t) for t in ch.get("taints_add", [])]
        keys = {(t.key, t.effect) for t in added}
        n.taints = [t for t in n.taints if (t.key, t.effect) not in removed | keys] + added
    if "version" in ch:
        n.version = ch["version"]
        n.release_version = ch["release_version"]
    if "launch_template" in ch:
        n.launch_template = ch["launch_template"]
    if "max_unavailable" in ch:
        n.max_unavailable = ch["max_unavailable"]


# --- clusters -------------------------------------------------------------------------------


def _cluster_due(b: EksBackend, c: ClusterRec, rec: ClusterRec) -> None:
    if c.status == "CREATING":
        c.status = "ACTIVE"
        b.touch(c)
    elif c.status == "DELETING":
        b.drop_cluster(c)


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
    )
    b.add_cluster(c)
    if status == "CREATING":
        b.schedule("cluster", c, c, b.settings.cluster_create_seconds)
    return c


def create_cluster(b: EksBackend, region: str, req: CreateClusterIn) -> Json:
    check_name("Cluster", req.name, 100)
    existing = b.find(region, req.name)
    if existing is not None:
        if req.clientRequestToken is not None and existing.token == req.clientRequestToken:
            return {"cluster": render_cluster(existing)}
        raise err.in_use(f"Cluster already exists with name: {req.name}", clusterName=req.name)
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
    default_cidrs = ["0.0.0.0/0", "::/0"] if ip_family == "ipv6" else ["0.0.0.0/0"]
    cidrs = list(vpc.publicAccessCidrs) if vpc.publicAccessCidrs else default_cidrs
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
    if req.accessConfig and req.accessConfig.authenticationMode:
        auth_mode = req.accessConfig.authenticationMode
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
    refuse_if_updating(c)
    if c.nodegroups:
        raise err.in_use(
            f"Cluster has nodegroups attached: {', '.join(sorted(c.nodegroups))}", clusterName=name
        )
    c.status = "DELETING"
    for a in c.addons.values():
        a.status = "DELETING"
    b.schedule("cluster", c, c, b.settings.cluster_delete_seconds)
    b.touch(c)
    return {"cluster": render_cluster(c)}


def update_cluster_version(b: EksBackend, region: str, name: str, req: UpdateClusterVersionIn) -> Json:
    c = b.cluster(region, name)
    again = find_token_update(c, req.clientRequestToken, None)
    if again is not None:
        return again
    require_active(c)
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
    u = new_update(
        b,
        c,
        "VersionUpdate",
        [("Version", target), ("PlatformVersion", "eks.1")],
        {"version": target},
        token=req.clientRequestToken,
        seconds=b.settings.cluster_update_seconds,
    )
    return {"update": render_update(u)}


def update_cluster_config(b: EksBackend, region: str, name: str, req: UpdateClusterConfigIn) -> Json:
    c = b.cluster(region, name)
    again = find_token_update(c, req.clientRequestToken, None)
    if again is not None:
        return again
    unsupported = [
        k
        for k in (
            "accessConfig",
            "upgradePolicy",
            "zonalShiftConfig",
            "computeConfig",
            "kubernetesNetworkConfig",
            "storageConfig",
            "remoteNetworkConfig",
            "deletionProtection",
        )
        if getattr(req, k) is not None
    ]
    if unsupported:
        raise err.invalid_parameter(
            f"The simulator does not support updating {', '.join(unsupported)}.", clusterName=name
        )
    if (req.resourcesVpcConfig is None) == (req.logging is None):
        raise err.invalid_parameter("Only one type of update can be allowed.", clusterName=name)
    require_active(c)
    if req.logging is not None:
        on, off = _check_logging(req.logging)
        enabled = (set(c.logging) | on) - off
        if enabled == set(c.logging):
            raise err.invalid_parameter("No changes needed for the logging config provided", clusterName=name)
        new_logging = [t for t in LOG_TYPES if t in enabled]
        value = msgspec.json.encode(
            [{"types": [t for t in LOG_TYPES if t in on], "enabled": True}]
            + ([{"types": [t for t in LOG_TYPES if t in off], "enabled": False}] if off else [])
        ).decode()
        u = new_update(
            b,
            c,
            "LoggingUpdate",
            [("ClusterLogging", value)],
            {"logging": new_logging},
            token=req.clientRequestToken,
            seconds=b.settings.cluster_update_seconds,
        )
        return {"update": render_update(u)}
    vpc = req.resourcesVpcConfig
    assert vpc is not None
    if vpc.subnetIds is not None or vpc.securityGroupIds is not None:
        raise err.invalid_parameter(
            "The simulator does not support updating subnetIds or securityGroupIds.", clusterName=name
        )
    public = c.public_access if vpc.endpointPublicAccess is None else vpc.endpointPublicAccess
    private = c.private_access if vpc.endpointPrivateAccess is None else vpc.endpointPrivateAccess
    cidrs = c.public_access_cidrs if vpc.publicAccessCidrs is None else list(vpc.publicAccessCidrs)
    if not cidrs:
        cidrs = ["0.0.0.0/0", "::/0"] if c.ip_family == "ipv6" else ["0.0.0.0/0"]
    if not public and not private:
        raise err.invalid_parameter(
            "Cluster endpoint must have public or private access enabled.", clusterName=name
        )
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
    params: list[tuple[str, str]] = []
    if vpc.endpointPublicAccess is not None:
        params.append(("EndpointPublicAccess", str(public).lower()))
    if vpc.endpointPrivateAccess is not None:
        params.append(("EndpointPrivateAccess", str(private).lower()))
    if vpc.publicAccessCidrs is not None:
        params.append(("PublicAccessCidrs", msgspec.json.encode(cidrs).decode()))
    u = new_update(
        b,
        c,
        "EndpointAccessUpdate",
        params,
        {"public": public, "private": private, "cidrs": cidrs},
        token=req.clientRequestToken,
        seconds=b.settings.cluster_update_seconds,
    )
    return {"update": render_update(u)}


# --- node groups ----------------------------------------------------------------------------


def _nodegroup(c: ClusterRec, name: str) -> NodegroupRec:
    n = c.nodegroups.get(name)
    if n is None:
        raise err.nodegroup_not_found(c.name, name)
    return n


def _resolve_lt(b: EksBackend, region: str, lt: LaunchTemplateIn) -> dict[str, str]:
    if not lt.id and not lt.name:
        raise err.invalid_parameter("launchTemplate needs an id or a name.")
    if lt.id and lt.name:
        raise err.invalid_parameter("Specify either launchTemplate id or name, not both.")
    try:
        found = b.lookup.launch_template(region, lt.id, lt.name, lt.version)
    except LookupError as e:
        raise err.invalid_parameter(
            f"Launch template version {lt.version} does not exist for launch template {lt.id or lt.name}."
        ) from e
    if found is None:
        raise err.invalid_parameter(f"Launch template {lt.id or lt.name} does not exist.")
    return found


def new_nodegroup(
    b: EksBackend,
    c: ClusterRec,
    name: str,
    *,
    version: str,
    min_size: int,
    max_size: int,
    desired_size: int,
    subnets: list[str],
    node_role: str,
    instance_types: list[str] | None,
    disk_size: int | None,
    ami_type: str,
    capacity_type: str,
    labels: dict[str, str],
    taints: list[Taint],
    tags: dict[str, str],
    launch_template: dict[str, str] | None,
    remote_access: Json | None,
    status: str,
    token: str | None = None,
    release: str | None = None,
) -> NodegroupRec:
    suffix = str(uuid.uuid4())
    now = b.wall()
    n = NodegroupRec(
        name=name,
        arn=b.arn(c.region, f"nodegroup/{c.name}/{name}/{suffix}"),
        status=status,
        version=version,
        release_version=release or release_version(version),
        created_at=now,
        modified_at=now,
        capacity_type=capacity_type,
        min_size=min_size,
        max_size=max_size,
        desired_size=desired_size,
        subnets=subnets,
        ami_type=ami_type,
        node_role=node_role,
        asg_name=f"eks-{name}-{suffix}",
        labels=labels,
        taints=taints,
        tags=tags,
        instance_types=instance_types,
        disk_size=disk_size,
        launch_template=launch_template,
        remote_access=remote_access,
        token=token,
    )
    c.nodegroups[name] = n
    if status == "CREATING":
        b.schedule("nodegroup", c, n, b.settings.nodegroup_create_seconds)
    b.generation += 1
    return n


def create_nodegroup(b: EksBackend, region: str, cluster: str, req: CreateNodegroupIn) -> Json:
    c = b.cluster(region, cluster)
    check_name("Nodegroup", req.nodegroupName, 63)
    existing = c.nodegroups.get(req.nodegroupName)
    if existing is not None:
        if req.clientRequestToken is not None and existing.token == req.clientRequestToken:
            return {"nodegroup": render_nodegroup(c.name, existing)}
        raise err.in_use(
            f"NodeGroup already exists with name {req.nodegroupName} and cluster name {cluster}",
            clusterName=cluster,
            nodegroupName=req.nodegroupName,
        )
    if c.status in ("CREATING", "DELETING"):
        raise err.invalid_request(f"Cluster '{cluster}' is not in ACTIVE status", clusterName=cluster)
    refuse_if_updating(c)
    version = b.version(req.version or c.version)
    if minor(version) > minor(c.version):  # type: ignore[operator]
        raise err.invalid_parameter(
            f"Requested Nodegroup version {version} is newer than the cluster version {c.version}",
            clusterName=cluster,
            nodegroupName=req.nodegroupName,
        )
    if not req.subnets:
        raise err.invalid_parameter("Subnets are required.", nodegroupName=req.nodegroupName)
    check_role("nodeRole", req.nodeRole)
    sc = req.scalingConfig
    min_size = 1 if sc is None or sc.minSize is None else sc.minSize
    max_size = 2 if sc is None or sc.maxSize is None else sc.maxSize
    desired = 2 if sc is None or sc.desiredSize is None else sc.desiredSize
    _check_scaling(min_size, max_size, desired)
    capacity = req.capacityType or "ON_DEMAND"
    if capacity not in _CAPACITY_TYPES:
        raise err.invalid_parameter(f"Invalid capacityType {capacity!r}.")
    lt: dict[str, str] | None = None
    if req.launchTemplate is not None:
        lt = _resolve_lt(b, region, req.launchTemplate)
        if req.diskSize is not None or req.remoteAccess is not None:
            raise err.invalid_parameter(
                "Disk size and remote access must be set in the launch template, not in the "
                "node group, when a launch template is used."
            )
    instance_types = req.instanceTypes
    disk = req.diskSize
    if lt is None:
        instance_types = instance_types or ["t3.medium"]
        disk = disk or 20
    ami = req.amiType or "AL2023_x86_64_STANDARD"
    tags = dict(req.tags or {})
    check_tags(tags)
    remote = None
    if req.remoteAccess is not None:
        remote = msgspec.structs.asdict(req.remoteAccess)
        remote = {k: v for k, v in remote.items() if v is not None}
    n = new_nodegroup(
        b,
        c,
        req.nodegroupName,
        version=version,
        min_size=min_size,
        max_size=max_size,
        desired_size=desired,
        subnets=list(req.subnets),
        node_role=req.nodeRole,
        instance_types=instance_types,
        disk_size=disk,
        ami_type=ami,
        capacity_type=capacity,
        labels=dict(req.labels or {}),
        taints=[_taint(t) for t in req.taints or []],
        tags=tags,
        launch_template=lt,
        remote_access=remote,
        status="CREATING",
        token=req.clientRequestToken,
        release=req.releaseVersion,
    )
    return {"nodegroup": render_nodegroup(c.name, n)}


def describe_nodegroup(b: EksBackend, region: str, cluster: str, name: str) -> Json:
    c = b.cluster(region, cluster)
    return {"nodegroup": render_nodegroup(c.name, _nodegroup(c, name))}


def list_nodegroups(
    b: EksBackend, region: str, cluster: str, max_results: int | None, token: str | None
) -> Json:
    c = b.cluster(region, cluster)
    return page_answer("nodegroups", sorted(c.nodegroups), max_results, token)


def delete_nodegroup(b: EksBackend, region: str, cluster: str, name: str) -> Json:
    c = b.cluster(region, cluster)
    n = _nodegroup(c, name)
    u = in_progress(c, name)
    if u is not None:
        raise err.in_use(
            f"Nodegroup {name} currently has update {u.id} in progress",
            clusterName=cluster,
            nodegroupName=name,
        )
    if n.status in ("CREATING", "DELETING"):
        raise err.in_use(
            f"Nodegroup {name} cannot be deleted because it is currently {n.status}",
            clusterName=cluster,
            nodegroupName=name,
        )
    n.status = "DELETING"
    n.modified_at = b.wall()
    b.schedule("nodegroup", c, n, b.settings.nodegroup_delete_seconds)
    b.generation += 1
    return {"nodegroup": render_nodegroup(c.name, n)}


def _nodegroup_update_guard(c: ClusterRec, n: NodegroupRec) -> None:
    refuse_if_updating(c)
    u = in_progress(c, n.name)
    if u is not None:
        raise err.in_use(
            f"Nodegroup {n.name} currently has update {u.id} in progress",
            clusterName=c.name,
            nodegroupName=n.name,
        )
    if n.status != "ACTIVE":
        raise err.in_use(
            f"Nodegroup {n.name} is currently {n.status}; the update requires ACTIVE.",
            clusterName=c.name,
            nodegroupName=n.name,
        )


def update_nodegroup_config(
    b: EksBackend, region: str, cluster: str, name: str, req: UpdateNodegroupConfigIn
) -> Json:
    c = b.cluster(region, cluster)
    n = _nodegroup(c, name)
    again = find_token_update(c, req.clientRequestToken, name)
    if again is not None:
        return again
    _nodegroup_update_guard(c, n)
    changes: Json = {}
    params: list[tuple[str, str]] = []
    sc = req.scalingConfig
    if sc is not None:
        mn = n.min_size if sc.minSize is None else sc.minSize
        mx = n.max_size if sc.maxSize is None else sc.maxSize
        ds = n.desired_size if sc.desiredSize is None else sc.desiredSize
        _check_scaling(mn, mx, ds)
        for key, label, value in (
            ("min", "MinSize", sc.minSize),
            ("max", "MaxSize", sc.maxSize),
            ("desired", "DesiredSize", sc.desiredSize),
        ):
            if value is not None:
                changes[key] = value
                params.append((label, str(value)))
    if req.labels is not None:
        add = dict(req.labels.addOrUpdateLabels or {})
        remove = list(req.labels.removeLabels or [])
        both = set(add) & set(remove)
        if both:
            raise err.invalid_parameter(
                f"Labels {sorted(both)} cannot be both added and removed.", nodegroupName=name
            )
        if add:
            changes["labels_add"] = add
            params.append(("LabelsToAdd", msgspec.json.encode(add).decode()))
        if remove:
            changes["labels_remove"] = remove
            params.append(("LabelsToRemove", msgspec.json.encode(remove).decode()))
    if req.taints is not None:
        add_t = [msgspec.structs.asdict(_taint(t)) for t in req.taints.addOrUpdateTaints or []]
        rem_t = [msgspec.structs.asdict(_taint(t)) for t in req.taints.removeTaints or []]
        if add_t:
            changes["taints_add"] = add_t
            params.append(("TaintsToAdd", msgspec.json.encode(add_t).decode()))
        if rem_t:
            changes["taints_remove"] = rem_t
            params.append(("TaintsToRemove", msgspec.json.encode(rem_t).decode()))
    if req.updateConfig is not None and req.updateConfig.maxUnavailable is not None:
        changes["max_unavailable"] = req.updateConfig.maxUnavailable
        params.append(("MaxUnavailable", str(req.updateConfig.maxUnavailable)))
    if not changes:
        raise err.invalid_parameter("No changes needed for the nodegroup config provided", nodegroupName=name)
    u = new_update(
        b,
        c,
        "ConfigUpdate",
        params,
        changes,
        token=req.clientRequestToken,
        nodegroup=n,
        seconds=b.settings.nodegroup_update_seconds,
    )
    return {"update": render_update(u)}


def update_nodegroup_version(
    b: EksBackend, region: str, cluster: str, name: str, req: UpdateNodegroupVersionIn
) -> Json:
    c = b.cluster(region, cluster)
    n = _nodegroup(c, name)
    again = find_token_update(c, req.clientRequestToken, name)
    if again is not None:
        return again
    _nodegroup_update_guard(c, n)
    changes: Json = {}
    params: list[tuple[str, str]] = []
    if req.launchTemplate is not None:
        if n.launch_template is None:
            raise err.invalid_parameter(
                "The node group was not created with a launch template; a launch template "
                "cannot be added by an update.",
                nodegroupName=name,
            )
        lt = _resolve_lt(b, region, req.launchTemplate)
        if lt["id"] != n.launch_template["id"]:
            raise err.invalid_parameter(
                f"Launch template {lt['id']} is not the node group's launch template "
                f"{n.launch_template['id']}; only its version can be changed.",
                nodegroupName=name,
            )
        changes["launch_template"] = lt
        params.append(("LaunchTemplateName", lt["name"]))
        params.append(("LaunchTemplateVersion", lt["version"]))
    if req.version is not None:
        target = b.version(req.version)
    elif req.launchTemplate is not None:
        target = n.version
    else:
        target = c.version
    if minor(target) > minor(c.version):  # type: ignore[operator]
        raise err.invalid_parameter(
            f"Requested Nodegroup version {target} is newer than the cluster version {c.version}",
            clusterName=cluster,
            nodegroupName=name,
        )
    if minor(target) < minor(n.version):  # type: ignore[operator]
        raise err.invalid_parameter(
            f"Nodegroup {name} cannot be downgraded from {n.version} to {target}",
            clusterName=cluster,
            nodegroupName=name,
        )
    release = req.releaseVersion or release_version(target)
    changes["version"] = target
    changes["release_version"] = release
    params.append(("Version", target))
    params.append(("ReleaseVersion", release))
    u = new_update(
        b,
        c,
        "VersionUpdate",
        params,
        changes,
        token=req.clientRequestToken,
        nodegroup=n,
        seconds=b.settings.nodegroup_update_seconds,
    )
    return {"update": render_update(u)}


# --- console (control API) ------------------------------------------------------------------


def console_delete_cluster(b: EksBackend, region: str, name: str) -> None:
    """Delete as the console does: node groups first, the cluster once they are gone."""
    c = b.cluster(region, name)
    for n in c.nodegroups.values():
        if n.status != "DELETING":
            n.status = "DELETING"
            b.schedule("nodegroup", c, n, b.settings.nodegroup_delete_seconds)
    c.status = "DELETING"
    for a in c.addons.values():
        a.status = "DELETING"
    delay = b.settings.cluster_delete_seconds
    if c.nodegroups:
        delay += b.settings.nodegroup_delete_seconds
    b.schedule("cluster", c, c, delay)
    b.touch(c)


def start_update(
    b: EksBackend,
    c: ClusterRec,
    type_: str,
    params: list[tuple[str, str]],
    changes: Json,
    *,
    nodegroup: NodegroupRec | None = None,
) -> UpdateRec:
    seconds = b.settings.cluster_update_seconds if nodegroup is None else b.settings.nodegroup_update_seconds
    return new_update(b, c, type_, params, changes, token=None, nodegroup=nodegroup, seconds=seconds)


def _check_scaling(min_size: int, max_size: int, desired: int) -> None:
    if min_size < 0 or desired < 0 or max_size < 1:
        raise err.invalid_parameter("Scaling sizes must be non-negative and maxSize at least 1.")
    if min_size > max_size:
        raise err.invalid_parameter(
            f"Minimum capacity {min_size} can't be greater than maximum capacity {max_size}"
        )
    if desired < min_size:
        raise err.invalid_parameter(
            f"Desired capacity {desired} can't be lower than minimum capacity {min_size}"
        )
    if desired > max_size:
        raise err.invalid_parameter(
            f"Desired capacity {desired} can't be greater than maximum capacity {max_size}"
        )


def _nodegroup_due(b: EksBackend, c: ClusterRec, n: NodegroupRec) -> None:
    settle(b, c.nodegroups, n)


# In this order, records of one cluster due at the same time move as before the split.
RESOURCES = (
    Resource(
        routes={},
        kind="cluster",
        records=lambda c: (c,),
        on_due=_cluster_due,
        apply_update=_apply_cluster_update,
        tagged=True,
    ),
    Resource(
        routes={},
        kind="nodegroup",
        records=lambda c: c.nodegroups.values(),
        on_due=_nodegroup_due,
        apply_update=_apply_nodegroup_update,
        tagged=True,
    ),
    _addons.RESOURCE,
    _updates.RESOURCE,
    _tags.RESOURCE,
)
